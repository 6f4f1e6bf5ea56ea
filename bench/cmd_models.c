/* `qbench models`: the model files in the models folder, with their
 * architecture, provenance and fp32 accuracy. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "args.h"
#include "commands.h"
#include "modelfile.h"

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int qb_cmd_models(int argc, char **argv)
{
    const char *dir = NULL;
    qb_opt opts[] = {
        {"--dir", QB_OPT_STR, &dir, "DIR", "models folder (default $QBENCH_MODELS or workloads/models)"},
    };
    qb_args a = {NULL, 0, 0, 0};
    qb_status s = qb_args_parse("models", argc, argv, opts, 1, &a);
    if (s != QB_OK) return qb_cmd_fail("models", s);
    if (a.help) {
        qb_args_usage(stdout, "models", "[--dir DIR]", opts, 1);
        return 0;
    }
    if (!dir) dir = qb_models_dir();
    DIR *d = opendir(dir);
    if (!d)
        return qb_cmd_fail("models", qb_error(QB_ERR_IO, "%s: cannot open the models folder; "
                                                         "train one with `qbench train NAME`", dir));
    char **names = NULL;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (len > 12 && strcmp(de->d_name + len - 12, ".safetensors") == 0) {
            char **nn = realloc(names, (size_t)(n + 1) * sizeof *nn);
            if (!nn) break;
            names = nn;
            names[n++] = strdup(de->d_name);
        }
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    printf("%-10s %-8s %9s %7s %10s %11s %9s  %s\n", "model", "arch", "accuracy", "epochs",
           "params", "MACs/image", "size", "trained");
    int bad = 0;
    for (int i = 0; i < n; i++) {
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        qb_model m;
        qb_meta meta;
        names[i][strlen(names[i]) - 12] = '\0';
        if (qb_model_load(path, &m, &meta, NULL) != QB_OK) {
            printf("%-10s (unreadable: %s)\n", names[i], qb_last_error());
            bad = 1;
            free(names[i]);
            continue;
        }
        struct stat st;
        long long size = stat(path, &st) == 0 ? (long long)st.st_size : -1;
        const char *acc = qb_meta_get(&meta, "fp32_test_accuracy");
        const char *ep = qb_meta_get(&meta, "epochs"), *secs = qb_meta_get(&meta, "train_seconds");
        const char *ver = qb_meta_get(&meta, "qbench_version");
        printf("%-10s %-8s %8s%% %7s %10lld %11lld %8.2fM  %s s, qbench %s\n", names[i], m.arch,
               acc ? acc : "?", ep ? ep : "?", (long long)qb_model_n_params(&m),
               (long long)qb_model_macs(&m), (double)size / 1e6, secs ? secs : "?", ver ? ver : "?");
        qb_model_free(&m);
        qb_meta_free(&meta);
        free(names[i]);
    }
    free(names);
    if (n == 0) printf("(no models in %s; train one with `qbench train NAME`)\n", dir);
    return bad ? 2 : 0;
}
