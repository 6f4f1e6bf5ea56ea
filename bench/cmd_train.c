/* `qbench train NAME`: trains a reference model on Fashion-MNIST and writes
 * workloads/models/NAME.safetensors (see workloads/train.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archs.h"
#include "args.h"
#include "commands.h"
#include "dataset.h"
#include "gemm.h"
#include "modelfile.h"
#include "pool.h"
#include "train.h"

int qb_cmd_train(int argc, char **argv)
{
    const char *out = NULL, *data_dir = NULL, *log_path = NULL;
    int epochs = 0, resume = 0, threads = 0, limit = 0, seed = 1, quiet = 0, batch = 0;
    int crop_pad = -1, flip = -1, stop_after = 0;
    double lr = 0, wd = -1;
    qb_opt opts[] = {
        {"--epochs", QB_OPT_INT, &epochs, "E", "epochs (default: the architecture's recipe)"},
        {"--out -o", QB_OPT_STR, &out, "F", "model file (default workloads/models/NAME.safetensors)"},
        {"--resume", QB_OPT_FLAG, &resume, NULL, "continue from F's checkpoint (F.ckpt) if there is one"},
        {"--stop-after", QB_OPT_INT, &stop_after, "E", "end this sitting after epoch E, keeping the checkpoint"},
        {"--data", QB_OPT_STR, &data_dir, "DIR", "Fashion-MNIST folder (default $QBENCH_DATA or " QB_FMNIST_DEFAULT_DIR ")"},
        {"--seed", QB_OPT_INT, &seed, "S", "random seed (default 1)"},
        {"--threads", QB_OPT_INT, &threads, "N", "worker threads (default: all online CPUs)"},
        {"--limit", QB_OPT_INT, &limit, "N", "train on the first N training images only (quick checks)"},
        {"--batch", QB_OPT_INT, &batch, "B", "mini-batch size (default: the recipe's)"},
        {"--lr", QB_OPT_DOUBLE, &lr, "LR", "peak learning rate (default: the recipe's)"},
        {"--wd", QB_OPT_DOUBLE, &wd, "WD", "weight decay (default: the recipe's)"},
        {"--crop-pad", QB_OPT_INT, &crop_pad, "P", "random-crop padding in pixels, 0 = off (default: the recipe's)"},
        {"--flip", QB_OPT_INT, &flip, "0|1", "random horizontal flip (default: the recipe's)"},
        {"--log", QB_OPT_STR, &log_path, "FILE", "append one line per epoch to FILE"},
        {"--quiet -q", QB_OPT_FLAG, &quiet, NULL, "no progress line"},
    };
    const char *pos[1];
    qb_args a = {pos, 1, 0, 0};
    const char *synopsis = "NAME [flags]   (NAME: mlp, lenet, resnet)";
    qb_status s = qb_args_parse("train", argc, argv, opts, (int)QB_ARRAY_LEN(opts), &a);
    if (s != QB_OK) return qb_cmd_fail("train", s);
    if (a.help) {
        qb_args_usage(stdout, "train", synopsis, opts, (int)QB_ARRAY_LEN(opts));
        return 0;
    }
    if (a.n_positional != 1) {
        qb_args_usage(stderr, "train", synopsis, opts, (int)QB_ARRAY_LEN(opts));
        return 2;
    }
    const qb_arch *arch = qb_arch_find(pos[0]);
    if (!arch) return qb_cmd_fail("train", QB_ERR_ARG);
    if (epochs < 0 || limit < 0 || threads < 0 || batch < 0 || lr < 0 || seed < 0 || stop_after < 0 || crop_pad > 8 ||
        flip > 1)
        return qb_cmd_fail("train", qb_error(QB_ERR_ARG,
                                             "--epochs, --limit, --threads, --batch, --lr and --seed "
                                             "must not be negative, --crop-pad at most 8, --flip 0 or 1"));
    qb_gemm_backend be;
    if ((s = qb_gemm_default(&be)) != QB_OK) return qb_cmd_fail("train", s);

    char out_path[1024], ckpt[1100];
    if (out)
        snprintf(out_path, sizeof out_path, "%s", out);
    else
        qb_model_path(arch->name, out_path, sizeof out_path);
    snprintf(ckpt, sizeof ckpt, "%s.ckpt", out_path);

    qb_train_options o = {.arch = arch->name, .recipe = arch->recipe, .seed = (uint64_t)seed,
                          .limit = limit, .out_path = out_path, .checkpoint_path = ckpt,
                          .resume = resume, .stop_after = stop_after, .progress = !quiet && isatty(2)};
    if (epochs) o.recipe.epochs = epochs;
    if (batch) o.recipe.batch = batch;
    if (lr > 0) o.recipe.lr = (float)lr;
    if (wd >= 0) o.recipe.weight_decay = (float)wd;
    if (crop_pad >= 0) o.recipe.crop_pad = crop_pad;
    if (flip >= 0) o.recipe.flip = flip != 0;
    if (o.recipe.warmup_epochs >= o.recipe.epochs) o.recipe.warmup_epochs = 0;

    FILE *log = NULL;
    if (log_path && !(log = fopen(log_path, "a"))) {
        perror(log_path);
        return 2;
    }
    o.log = log ? log : (o.progress ? stderr : NULL);

    qb_fmnist data;
    if ((s = qb_fmnist_load(qb_dataset_dir(data_dir), &data)) != QB_OK) {
        if (log) fclose(log);
        return qb_cmd_fail("train", s);
    }
    if (threads == 0) threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (threads < 1) threads = 1;
    qb_pool *pool = NULL;
    if ((s = qb_pool_create(&pool, threads, NULL, NULL)) != QB_OK) {
        qb_fmnist_free(&data);
        if (log) fclose(log);
        return qb_cmd_fail("train", s);
    }
    o.pool = pool;
    if (log)
        fprintf(log, "training %s: %d epochs, seed %d, %d threads, %s\n", arch->name,
                o.recipe.epochs, seed, threads, qb_gemm_describe(be));
    qb_train_result r;
    s = qb_train(&o, &data, &r);
    qb_pool_free(pool);
    qb_fmnist_free(&data);
    if (log) fclose(log);
    if (s != QB_OK) return qb_cmd_fail("train", s);
    if (r.stopped) {
        printf("%s: stopped after epoch %d of %d (%.0f s); checkpoint %s; continue with --resume\n",
               arch->name, r.epochs, o.recipe.epochs, r.seconds, ckpt);
        return 0;
    }
    printf("%s: fp32 test accuracy %.2f%% (calibration slice %.2f%%), %d epochs, %.0f s of "
           "training%s\nwrote %s\n",
           arch->name, r.test_accuracy, r.calib_accuracy, r.epochs, r.seconds,
           r.resumed_from ? " (resumed)" : "", out_path);
    return 0;
}
