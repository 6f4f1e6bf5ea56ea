/* `qbench schemes`: the scheme table, straight from quantizers/scheme.c, so
 * the listing, the README table and the harness can never disagree. */
#include <stdio.h>
#include <string.h>
#include "args.h"
#include "commands.h"
#include "csvio.h"
#include "scheme.h"

int qb_cmd_schemes(int argc, char **argv)
{
    const char *format = "text";
    qb_opt opts[] = {
        {"--format", QB_OPT_STR, &format, "text|csv", "output format (default text)"},
    };
    qb_args args = {NULL, 0, 0, 0};
    qb_status st = qb_args_parse("schemes", argc, argv, opts, QB_ARRAY_LEN(opts), &args);
    if (st != QB_OK) return qb_cmd_fail("schemes", st);
    if (args.help) {
        qb_args_usage(stdout, "schemes", "[--format text|csv]", opts, QB_ARRAY_LEN(opts));
        return 0;
    }
    int csv = strcmp(format, "csv") == 0;
    if (!csv && strcmp(format, "text") != 0)
        return qb_cmd_fail("schemes", qb_error(QB_ERR_ARG, "--format: expected text or csv, got '%s'",
                                               format));
    if (csv) fputs("scheme,bits,default_bits,params,calibrated,levels\n", stdout);
    else printf("%-13s %-6s %-8s %-20s %-11s %s\n", "scheme", "bits", "default", "params per block",
                "calibrated", "levels");
    for (int i = 0; i < qb_schemes_count(); i++) {
        const qb_scheme *s = qb_scheme_at(i);
        char bits[64], params[64], def[8];
        qb_scheme_bits_str(s, bits, sizeof bits);
        if (csv) { /* machine-readable: every width, ';'-separated */
            size_t off = 0;
            bits[0] = '\0';
            for (int b = 1; b <= 31; b++)
                if (qb_scheme_accepts_bits(s, b))
                    off += (size_t)snprintf(bits + off, sizeof bits - off, "%s%d", off ? ";" : "", b);
        }
        qb_scheme_params_str(s, params, sizeof params);
        snprintf(def, sizeof def, "%d", s->default_bits);
        if (csv) {
            qb_csv_line l = {0};
            qb_csv_str(&l, s->name);
            qb_csv_str(&l, bits);
            qb_csv_str(&l, def);
            qb_csv_str(&l, params);
            qb_csv_str(&l, s->calibrated ? "yes" : "no");
            qb_csv_str(&l, s->levels);
            qb_csv_end(&l);
            st = qb_csv_line_status(&l);
            if (st == QB_OK) fputs(l.buf, stdout);
            qb_csv_line_free(&l);
            if (st != QB_OK) return qb_cmd_fail("schemes", st);
        } else {
            printf("%-13s %-6s %-8s %-20s %-11s %s\n", s->name, bits, def, params,
                   s->calibrated ? "yes" : "no", s->levels);
        }
    }
    if (!csv)
        printf("\ngranularity: tensor | channel (--axis, default 0) | group:N (along --axis, default -1)\n"
               "calibration: minmax | percentile:P (50 < P <= 100) | mse | kl\n"
               "rounding:    nearest (ties to even) | stochastic[:SEED]\n");
    return 0;
}
