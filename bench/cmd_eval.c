/* `qbench eval`: accuracy of a model under one quantization config, against
 * its fp32 self on the same 10,000 test images (see workloads/qeval.h). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "csvio.h"
#include "evalflags.h"

static void print_csv(const qb_evalflags *f, const qb_qeval_result *r, const char *model)
{
    static const char *cols[] = {"model", "scheme", "granularity", "calib", "policy", "wbits",
                                 "abits", "accuracy", "fp32_accuracy", "drop_pp", "drop_ci_low",
                                 "drop_ci_high", "agreement", "kl", "size_bytes",
                                 "fp32_size_bytes", "compression", "mcnemar_p"};
    qb_csv_line l = {0};
    for (size_t i = 0; i < QB_ARRAY_LEN(cols); i++) qb_csv_str(&l, cols[i]);
    qb_csv_end(&l);
    fwrite(l.buf, 1, l.len, stdout);
    qb_csv_line_reset(&l);
    char policy[32] = "uniform";
    if (f->keep_first_last) snprintf(policy, sizeof policy, "first-last:%d", f->keep_first_last);
    qb_csv_str(&l, model);
    qb_csv_str(&l, f->scheme);
    qb_csv_str(&l, f->granularity);
    qb_csv_str(&l, f->calib);
    qb_csv_str(&l, policy);
    qb_csv_int(&l, f->wbits, 1);
    qb_csv_int(&l, f->abits, 1);
    qb_csv_num(&l, r->accuracy);
    qb_csv_num(&l, r->fp32_accuracy);
    qb_csv_num(&l, r->drop_pp);
    qb_csv_num(&l, r->drop_ci_low);
    qb_csv_num(&l, r->drop_ci_high);
    qb_csv_num(&l, r->agreement);
    qb_csv_num(&l, r->kl);
    qb_csv_int(&l, (long long)r->size_bytes, 1);
    qb_csv_int(&l, (long long)r->fp32_size_bytes, 1);
    qb_csv_num(&l, (double)r->fp32_size_bytes / (double)r->size_bytes);
    qb_csv_num(&l, r->mcnemar_p);
    qb_csv_end(&l);
    fwrite(l.buf, 1, l.len, stdout);
    qb_csv_line_free(&l);
}

static void print_text(const qb_evalflags *f, const qb_qeval_result *r, const char *model)
{
    char d[256];
    printf("%s: %s\n", model, qb_evalflags_describe(f, d, sizeof d));
    if (f->keep_first_last) printf("first and last conv/dense layers at %d bits\n", f->keep_first_last);
    printf("  top-1          %6.2f%%   (fp32 %.2f%%, %d test images)\n", r->accuracy, r->fp32_accuracy, r->n);
    printf("  drop           %+6.2f pp  95%% interval [%+.2f, %+.2f] (paired; %lld images right only in "
           "fp32, %lld only quantized; McNemar mid-p %.3g)\n",
           r->drop_pp, r->drop_ci_low, r->drop_ci_high, r->fp32_only, r->quant_only, r->mcnemar_p);
    printf("  agreement      %6.2f%%   (same top-1 as fp32)\n", r->agreement);
    printf("  KL             %.3g nats (fp32 || quantized softmax, mean)\n", r->kl);
    printf("  size           %llu bytes (fp32 %llu, %.2fx smaller)\n", (unsigned long long)r->size_bytes,
           (unsigned long long)r->fp32_size_bytes, (double)r->fp32_size_bytes / (double)r->size_bytes);
}

int qb_cmd_eval(int argc, char **argv)
{
    qb_evalflags f;
    qb_opt opts[QB_EVALFLAGS_N];
    qb_evalflags_init(&f, opts);
    const char *synopsis = "--model M [--scheme S --wbits B --abits A --granularity G --calib C] "
                           "[--keep-first-last B] [--format text|csv]";
    qb_evalsetup setup;
    int rc = qb_evalflags_start("eval", synopsis, argc, argv, opts, QB_EVALFLAGS_N, &f, &setup);
    if (rc >= 0) return rc;
    qb_qeval_result r;
    qb_status s = qb_qeval_run(setup.ev, &setup.config, &r);
    if (s == QB_OK) {
        const char *model = qb_qeval_model(setup.ev)->arch;
        if (strcmp(f.format, "csv") == 0)
            print_csv(&f, &r, model);
        else
            print_text(&f, &r, model);
        qb_qeval_result_free(&r);
    }
    qb_evalsetup_close(&setup);
    return s == QB_OK ? 0 : qb_cmd_fail("eval", s);
}
