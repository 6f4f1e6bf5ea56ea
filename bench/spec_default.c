/* bench/default.ini, built into the binary (the Makefile rebuilds this file
 * when the .ini changes), so `qbench sweep` works from any folder. */
#include "spec_default.h"

__asm__(".section .rodata\n"
        ".global qb_default_spec_text\n"
        ".type qb_default_spec_text, @object\n"
        "qb_default_spec_text:\n"
        ".incbin \"bench/default.ini\"\n"
        ".byte 0\n"
        ".previous\n");
