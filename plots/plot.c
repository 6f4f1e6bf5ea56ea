/* Filling gnuplot templates and running gnuplot (see plot.h). */
#include "plot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *find_template(const char *name)
{
    for (int i = 0; i < qb_n_plot_templates; i++)
        if (strcmp(qb_plot_templates[i].name, name) == 0) return qb_plot_templates[i].text;
    return NULL;
}

static char *path_join(const char *dir, const char *name, const char *ext)
{
    char *p;
    if (asprintf(&p, "%s/%s%s", dir, name, ext) < 0) return NULL;
    return p;
}

qb_status qb_plot_begin(qb_plot *p, const char *dir, const char *name, const char *tmpl)
{
    memset(p, 0, sizeof *p);
    p->tmpl = find_template(tmpl);
    if (!p->tmpl) return qb_error(QB_ERR_INTERNAL, "no gnuplot template %s compiled in", tmpl);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return qb_error(QB_ERR_IO, "%s: cannot create the plots folder (%s)", dir, strerror(errno));
    p->dir = strdup(dir);
    p->name = strdup(name);
    char *dat = path_join(dir, name, ".dat");
    if (!p->dir || !p->name || !dat) {
        free(dat);
        qb_plot_abort(p);
        return qb_error(QB_ERR_NOMEM, "out of memory");
    }
    qb_status s = qb_safefile_open(&p->data, dat);
    free(dat);
    if (s != QB_OK) {
        qb_plot_abort(p);
        return s;
    }
    fprintf(p->data.fp, "# data for %s.gp, written by qbench\n", name);
    qb_plot_set(p, "NAME", "%s", name);
    qb_plot_set(p, "WIDTH", "960");
    qb_plot_set(p, "HEIGHT", "540");
    return QB_OK;
}

FILE *qb_plot_data(qb_plot *p) { return p->data.fp; }

qb_status qb_plot_set(qb_plot *p, const char *key, const char *fmt, ...)
{
    char *value;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&value, fmt, ap);
    va_end(ap);
    if (n < 0) return qb_error(QB_ERR_NOMEM, "out of memory");
    for (int i = 0; i < p->nvars; i++)
        if (strcmp(p->keys[i], key) == 0) {
            free(p->values[i]);
            p->values[i] = value;
            return QB_OK;
        }
    if (p->nvars == QB_PLOT_MAX_VARS) {
        free(value);
        return qb_error(QB_ERR_INTERNAL, "plot %s: more than %d template variables", p->name,
                        QB_PLOT_MAX_VARS);
    }
    p->keys[p->nvars] = strdup(key);
    p->values[p->nvars++] = value;
    return QB_OK;
}

/* Copies `text` to f with every @KEY@ replaced; an unknown key is a bug in
 * the caller, reported rather than left for gnuplot to trip over. */
static qb_status fill(const qb_plot *p, const char *text, FILE *f)
{
    while (*text) {
        const char *at = strchr(text, '@');
        const char *end = at ? strchr(at + 1, '@') : NULL;
        if (!at || !end) {
            fputs(text, f);
            break;
        }
        fwrite(text, 1, (size_t)(at - text), f);
        size_t klen = (size_t)(end - at - 1);
        int found = 0;
        for (int i = 0; i < p->nvars && !found; i++)
            if (strlen(p->keys[i]) == klen && strncmp(p->keys[i], at + 1, klen) == 0) {
                fputs(p->values[i], f);
                found = 1;
            }
        if (!found)
            return qb_error(QB_ERR_INTERNAL, "plot %s: template placeholder @%.*s@ has no value",
                            p->name, (int)klen, at + 1);
        text = end + 1;
    }
    return QB_OK;
}

qb_status qb_plot_finish(qb_plot *p)
{
    qb_status s = qb_safefile_commit(&p->data);
    char *gp = s == QB_OK ? path_join(p->dir, p->name, ".gp") : NULL;
    qb_safefile f = {0};
    if (s == QB_OK && !gp) s = qb_error(QB_ERR_NOMEM, "out of memory");
    if (s == QB_OK) s = qb_safefile_open(&f, gp);
    if (s == QB_OK) {
        const char *pre = find_template("terminal.gp");
        s = pre ? fill(p, pre, f.fp) : qb_error(QB_ERR_INTERNAL, "terminal.gp not compiled in");
        if (s == QB_OK) s = fill(p, p->tmpl, f.fp);
        if (s == QB_OK) s = qb_safefile_commit(&f);
        else qb_safefile_abort(&f);
    }
    free(gp);
    qb_plot_abort(p);
    return s;
}

void qb_plot_abort(qb_plot *p)
{
    if (p->data.fp) qb_safefile_abort(&p->data);
    for (int i = 0; i < p->nvars; i++) {
        free(p->keys[i]);
        free(p->values[i]);
    }
    free(p->dir);
    free(p->name);
    memset(p, 0, sizeof *p);
}

const char *qb_plot_clean(const char *s, char *buf, size_t len)
{
    size_t n = 0;
    for (; *s && n + 1 < len; s++)
        buf[n++] = (*s == '"' || *s == '\n' || *s == '\r' || *s == '\\' || *s == '@') ? ' ' : *s;
    buf[n] = '\0';
    return buf;
}

void qb_plot_quote(FILE *f, const char *s)
{
    char buf[256];
    fprintf(f, "\"%s\"", qb_plot_clean(s, buf, sizeof buf));
}

int qb_gnuplot_find(char *path, size_t len)
{
    const char *env = getenv("PATH");
    if (!env || !*env) return 0;
    char *copy = strdup(env), *save = NULL;
    int found = 0;
    for (char *d = strtok_r(copy, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
        snprintf(path, len, "%s/gnuplot", *d ? d : ".");
        found = access(path, X_OK) == 0;
    }
    free(copy);
    return found;
}

/* Starts gnuplot on NAME.gp in `dir` for one format; stderr is appended to
 * the log. Returns the child's pid, or -1. */
static pid_t spawn_gnuplot(const char *gnuplot, const char *dir, const char *name,
                           const char *fmt, const char *out)
{
    char expr[1100], script[512], log[512];
    snprintf(expr, sizeof expr, "fmt='%s'; out='%s'", fmt, out);
    snprintf(script, sizeof script, "%s.gp", name);
    snprintf(log, sizeof log, "%s.log", name);
    pid_t pid = fork();
    if (pid != 0) return pid;
    int devnull = open("/dev/null", O_RDWR);
    if (chdir(dir) != 0) _exit(126);
    int logfd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (devnull >= 0) {
        dup2(devnull, 0);
        dup2(devnull, 1);
    }
    if (logfd >= 0) dup2(logfd, 2);
    execl(gnuplot, "gnuplot", "-e", expr, script, (char *)NULL);
    _exit(127);
}

/* Waits for a child; its exit status, or -1 if it did not exit normally. */
static int wait_child(pid_t pid)
{
    int status;
    if (pid < 0) return -1;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The first line of the log, for messages. */
static void first_line(const char *path, char *buf, size_t len)
{
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f) return;
    while (fgets(buf, (int)len, f))
        if (strspn(buf, " \t\r\n^") != strlen(buf)) break; /* skip blank and caret lines */
    fclose(f);
    buf[strcspn(buf, "\r\n")] = '\0';
}

qb_status qb_plot_render(const char *dir, const char *name, char *warning, size_t wlen)
{
    char gnuplot[4096];
    if (warning && wlen) warning[0] = '\0';
    if (!qb_gnuplot_find(gnuplot, sizeof gnuplot))
        return qb_error(QB_ERR_UNSUPPORTED, "gnuplot is not installed (not found on PATH); "
                        "install it (apt-get install gnuplot-nox) or render the scripts in %s "
                        "later with gnuplot", dir);
    char *log = path_join(dir, name, ".log");
    if (!log) return qb_error(QB_ERR_NOMEM, "out of memory");
    unlink(log);
    /* PNG and SVG render side by side: two gnuplot processes. */
    static const char *const fmts[] = {"png", "svg"};
    char *tmp_path[2] = {NULL, NULL}, *final_path[2] = {NULL, NULL};
    pid_t pid[2];
    for (int i = 0; i < 2; i++) {
        char tmp[512], final_name[512];
        snprintf(tmp, sizeof tmp, ".%s.%s.tmp", name, fmts[i]);
        snprintf(final_name, sizeof final_name, "%s.%s", name, fmts[i]);
        tmp_path[i] = path_join(dir, tmp, "");
        final_path[i] = path_join(dir, final_name, "");
        fflush(NULL); /* the child must not repeat buffered output */
        pid[i] = tmp_path[i] && final_path[i] ? spawn_gnuplot(gnuplot, dir, name, fmts[i], tmp) : -1;
    }
    qb_status s = QB_OK;
    for (int i = 0; i < 2; i++) {
        int rc = wait_child(pid[i]);
        if (rc != 0 && s == QB_OK) {
            char line[256];
            first_line(log, line, sizeof line);
            s = qb_error(QB_ERR_IO, "gnuplot failed on %s/%s.gp (%s)%s%s; see %s", dir, name,
                         rc < 0 ? "could not run it" : "it exited with an error",
                         *line ? ": " : "", line, log);
        }
        if (rc != 0 && tmp_path[i]) unlink(tmp_path[i]);
        if (rc == 0 && s == QB_OK && rename(tmp_path[i], final_path[i]) != 0)
            s = qb_error(QB_ERR_IO, "%s: cannot rename into place (%s)", final_path[i],
                         strerror(errno));
        if (rc == 0 && s != QB_OK) unlink(tmp_path[i]);
        free(tmp_path[i]);
        free(final_path[i]);
    }
    if (s == QB_OK && warning) first_line(log, warning, wlen);
    free(log);
    return s;
}
