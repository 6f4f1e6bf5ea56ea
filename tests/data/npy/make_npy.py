#!/usr/bin/python3
# Writes the golden .npy files tests/test_npy.c reads: arrays saved by NumPy
# itself, so the reader is checked against the real format, not against our
# own writer. Needs python3-numpy (Debian); qbench's tests do not (the files
# are checked in). Run from this folder: ./make_npy.py
import numpy as np

def save(name, a, version=None):
    with open(name, "wb") as f:
        np.lib.format.write_array(f, a, version=version, allow_pickle=False)

save("f32_2x3.npy", (np.arange(6, dtype="<f4") * 0.5 - 1).reshape(2, 3))
save("f64_scalar.npy", np.array(3.25, dtype="<f8"))
save("f16_4.npy", np.array([0.5, -2, 65504, 1e-7], dtype="<f2"))
save("i8_2x2x2.npy", np.array([-128, -1, 0, 1, 2, 3, 100, 127], dtype="i1").reshape(2, 2, 2))
save("u8_5.npy", np.array([0, 1, 128, 254, 255], dtype="u1"))
save("i16_3.npy", np.array([-32768, 7, 32767], dtype="<i2"))
save("u16_3.npy", np.array([0, 7, 65535], dtype="<u2"))
save("i32_3.npy", np.array([-2**31, 7, 2**31 - 1], dtype="<i4"))
save("u32_3.npy", np.array([0, 7, 2**32 - 1], dtype="<u4"))
save("i64_3.npy", np.array([-2**63, 7, 2**63 - 1], dtype="<i8"))
save("u64_3.npy", np.array([0, 7, 2**64 - 1], dtype="<u8"))
save("be_i4_3.npy", np.array([1, -2, 70000], dtype=">i4"))
save("be_f8_2.npy", np.array([1.5, -0.25], dtype=">f8"))
save("v2_f32_2.npy", np.array([1, 2], dtype="<f4"), version=(2, 0))
save("v3_f32_2.npy", np.array([3, 4], dtype="<f4"), version=(3, 0))
save("empty_0x3.npy", np.zeros((0, 3), dtype="<f4"))
save("rank8.npy", np.arange(16, dtype="<f4").reshape(1, 2, 1, 2, 1, 2, 1, 2))
save("fortran_2x3.npy", np.asfortranarray(np.arange(6, dtype="<f4").reshape(2, 3)))
save("bool_3.npy", np.array([True, False, True]))
save("c64_2.npy", np.array([1 + 2j, 3], dtype="<c8"))
save("rec_2.npy", np.zeros(2, dtype=[("a", "<f4"), ("b", "<i4")]))
