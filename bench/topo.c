/* Topologies and placements with hwloc (see topo.h). */
#include "topo.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "args.h"
#include "safefile.h"

struct qb_topo {
    hwloc_topology_t h;
    int this_system;
    char source[300];
};

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

qb_status qb_topo_load(qb_topo **out, const char *source)
{
    *out = NULL;
    qb_topo *t = qb_calloc(1, sizeof *t);
    if (!t) return QB_ERR_NOMEM;
    if (hwloc_topology_init(&t->h) != 0) {
        free(t);
        return qb_error(QB_ERR_INTERNAL, "hwloc_topology_init failed: %s", strerror(errno));
    }
    qb_status s = QB_OK;
    struct stat st;
    if (!source || !*source) {
        snprintf(t->source, sizeof t->source, "this machine");
    } else if (ends_with(source, ".xml") || stat(source, &st) == 0) {
        snprintf(t->source, sizeof t->source, "XML %s", source);
        if (stat(source, &st) != 0) {
            s = qb_error(QB_ERR_IO, "--topology %s: %s (give an hwloc XML file, e.g. from "
                         "`lstopo topo.xml`, or a synthetic description)", source, strerror(errno));
        } else if (hwloc_topology_set_xml(t->h, source) != 0) {
            s = qb_error(QB_ERR_FORMAT, "--topology %s: hwloc cannot read this XML file (%s)", source,
                         strerror(errno));
        }
    } else {
        snprintf(t->source, sizeof t->source, "synthetic '%s'", source);
        if (hwloc_topology_set_synthetic(t->h, source) != 0)
            s = qb_error(QB_ERR_ARG, "--topology '%s': not a valid hwloc synthetic description "
                         "(levels such as \"pack:2 numa:2 core:8 pu:2\")", source);
    }
    if (s == QB_OK && hwloc_topology_load(t->h) != 0)
        s = qb_error(QB_ERR_FORMAT, "topology %s: hwloc could not load it (%s)", t->source,
                     strerror(errno));
    if (s != QB_OK) {
        qb_topo_free(t);
        return s;
    }
    t->this_system = hwloc_topology_is_thissystem(t->h) && (!source || !*source);
    *out = t;
    return QB_OK;
}

void qb_topo_free(qb_topo *t)
{
    if (!t) return;
    hwloc_topology_destroy(t->h);
    free(t);
}

hwloc_topology_t qb_topo_hwloc(const qb_topo *t) { return t->h; }
int qb_topo_is_this_system(const qb_topo *t) { return t->this_system; }
const char *qb_topo_source(const qb_topo *t) { return t->source; }

int qb_topo_count(const qb_topo *t, hwloc_obj_type_t type)
{
    int n = hwloc_get_nbobjs_by_type(t->h, type);
    return n < 0 ? 0 : n;
}

/* The object type a non-SMT placement puts one thread on. */
static hwloc_obj_type_t core_type(const qb_topo *t)
{
    return qb_topo_count(t, HWLOC_OBJ_CORE) > 0 ? HWLOC_OBJ_CORE : HWLOC_OBJ_PU;
}

int qb_topo_n_cores(const qb_topo *t) { return qb_topo_count(t, core_type(t)); }

void qb_topo_summary(const qb_topo *t, char *buf, size_t len)
{
    int np = qb_topo_count(t, HWLOC_OBJ_PACKAGE), nn = qb_topo_count(t, HWLOC_OBJ_NUMANODE);
    int nl3 = qb_topo_count(t, HWLOC_OBJ_L3CACHE), nc = qb_topo_n_cores(t);
    int npu = qb_topo_count(t, HWLOC_OBJ_PU);
    snprintf(buf, len, "%d package%s, %d numa, %d l3, %d core%s, %d pu%s", np, np == 1 ? "" : "s", nn,
             nl3, nc, nc == 1 ? "" : "s", npu, npu == 1 ? "" : "s");
}

qb_status qb_topo_export_xml(const qb_topo *t, const char *path)
{
    char *xml = NULL;
    int len = 0;
    if (hwloc_topology_export_xmlbuffer(t->h, &xml, &len, 0) != 0)
        return qb_error(QB_ERR_INTERNAL, "hwloc could not export the topology as XML (%s)",
                        strerror(errno));
    qb_safefile f;
    qb_status s = qb_safefile_open(&f, path);
    if (s == QB_OK) {
        /* hwloc counts the terminating NUL in len */
        fwrite(xml, 1, len > 0 ? (size_t)len - 1 : 0, f.fp);
        s = qb_safefile_commit(&f);
    }
    hwloc_free_xmlbuffer(t->h, xml);
    return s;
}

int qb_topo_default_placements(const qb_topo *t, char names[][32], int cap)
{
    int n = 0;
    if (n < cap) snprintf(names[n++], 32, "core");
    int nn = qb_topo_count(t, HWLOC_OBJ_NUMANODE);
    for (int i = 0; nn > 1 && i < nn && n < cap; i++) snprintf(names[n++], 32, "numa:%d", i);
    if (qb_topo_n_cores(t) > 1 && n < cap) snprintf(names[n++], 32, "all");
    if (qb_topo_count(t, HWLOC_OBJ_PU) > qb_topo_n_cores(t) && n < cap)
        snprintf(names[n++], 32, "all+smt");
    return n;
}

/* ---- thread order ---- */

typedef struct {
    hwloc_obj_t *v;
    int n;
} obj_list;

/* Leaves of type `leaf` under `obj`, in scatter order: the leaf lists of
 * the children interleaved round-robin, recursively, so consecutive picks
 * land as far apart in the tree as possible. */
static qb_status scatter_order(hwloc_obj_t obj, hwloc_obj_type_t leaf, obj_list *out)
{
    out->n = 0;
    out->v = NULL;
    if (obj->type == leaf) {
        out->v = qb_malloc(1, sizeof *out->v);
        if (!out->v) return QB_ERR_NOMEM;
        out->v[0] = obj;
        out->n = 1;
        return QB_OK;
    }
    unsigned nc = obj->arity;
    if (nc == 0) return QB_OK;
    obj_list *kids = qb_calloc(nc, sizeof *kids);
    if (!kids) return QB_ERR_NOMEM;
    qb_status s = QB_OK;
    int total = 0, longest = 0;
    for (unsigned i = 0; i < nc && s == QB_OK; i++) {
        s = scatter_order(obj->children[i], leaf, &kids[i]);
        total += kids[i].n;
        if (kids[i].n > longest) longest = kids[i].n;
    }
    if (s == QB_OK && total > 0) {
        out->v = qb_malloc((size_t)total, sizeof *out->v);
        if (!out->v) s = QB_ERR_NOMEM;
        for (int r = 0; s == QB_OK && r < longest; r++)
            for (unsigned i = 0; i < nc; i++)
                if (r < kids[i].n) out->v[out->n++] = kids[i].v[r];
    }
    for (unsigned i = 0; i < nc; i++) free(kids[i].v);
    free(kids);
    return s;
}

/* Leaves of type `leaf` inside `cpuset`, in the requested order. */
static qb_status leaves_in(const qb_topo *t, hwloc_const_cpuset_t cpuset, hwloc_obj_type_t leaf,
                           qb_order order, obj_list *out)
{
    out->n = 0;
    out->v = NULL;
    obj_list all = {0};
    qb_status s = QB_OK;
    if (order == QB_ORDER_SCATTER) {
        s = scatter_order(hwloc_get_root_obj(t->h), leaf, &all);
    } else {
        int n = qb_topo_count(t, leaf);
        all.v = qb_malloc((size_t)(n > 0 ? n : 1), sizeof *all.v);
        if (!all.v) return QB_ERR_NOMEM;
        for (int i = 0; i < n; i++) all.v[all.n++] = hwloc_get_obj_by_type(t->h, leaf, (unsigned)i);
    }
    if (s != QB_OK) {
        free(all.v);
        return s;
    }
    out->v = all.v;
    for (int i = 0; i < all.n; i++)
        if (hwloc_bitmap_isincluded(all.v[i]->cpuset, cpuset)) out->v[out->n++] = all.v[i];
    return QB_OK;
}

/* ---- placement names ---- */

typedef struct {
    const char *kind;   /* "core", "cores", "numa", ... */
    int has_arg;        /* 0 none, 1 optional, 2 required */
    hwloc_obj_type_t container; /* for numa/package/l3 */
    int smt;
} kind_entry;

static const kind_entry kinds[] = {
    {"core", 1, HWLOC_OBJ_MACHINE, 0},        {"cores", 2, HWLOC_OBJ_MACHINE, 0},
    {"numa", 2, HWLOC_OBJ_NUMANODE, 0},       {"package", 2, HWLOC_OBJ_PACKAGE, 0},
    {"l3", 2, HWLOC_OBJ_L3CACHE, 0},          {"all", 0, HWLOC_OBJ_MACHINE, 0},
    {"all+smt", 0, HWLOC_OBJ_MACHINE, 1},
};

static const char *container_noun(hwloc_obj_type_t type)
{
    switch (type) {
    case HWLOC_OBJ_NUMANODE: return "NUMA node";
    case HWLOC_OBJ_PACKAGE: return "package";
    case HWLOC_OBJ_L3CACHE: return "L3 cache";
    default: return "object";
    }
}

static qb_status bad_name(const char *what, const char *name, const char *why)
{
    return qb_error(QB_ERR_ARG, "%s: placement '%s': %s (placements: core, core:I, cores:N, "
                    "numa:I, package:I, l3:I, all, all+smt, each optionally followed by "
                    ":compact or :scatter)", what, name, why);
}

void qb_placement_free(qb_placement *p)
{
    if (!p) return;
    for (int i = 0; p->thread_set && i < p->nthreads; i++) hwloc_bitmap_free(p->thread_set[i]);
    free(p->thread_set);
    hwloc_bitmap_free(p->cpuset);
    hwloc_bitmap_free(p->nodeset);
    memset(p, 0, sizeof *p);
}

qb_status qb_placement_resolve(const qb_topo *t, const char *what, const char *name,
                               qb_placement *out)
{
    memset(out, 0, sizeof *out);
    char buf[64];
    if (strlen(name) >= sizeof buf) return bad_name(what, name, "name too long");
    snprintf(buf, sizeof buf, "%s", name);

    /* split "kind[:arg][:order]" */
    char *parts[4] = {0};
    int np = 0;
    for (char *p = buf, *tok; (tok = strsep(&p, ":")) != NULL;) {
        if (np == 3) return bad_name(what, name, "too many ':' parts");
        parts[np++] = tok;
    }
    qb_order order = QB_ORDER_COMPACT;
    int has_order = 0;
    if (np > 1 && (strcmp(parts[np - 1], "compact") == 0 || strcmp(parts[np - 1], "scatter") == 0)) {
        order = strcmp(parts[np - 1], "scatter") == 0 ? QB_ORDER_SCATTER : QB_ORDER_COMPACT;
        has_order = 1;
        np--;
    }
    const kind_entry *k = NULL;
    for (size_t i = 0; i < QB_ARRAY_LEN(kinds); i++)
        if (strcmp(kinds[i].kind, parts[0]) == 0) k = &kinds[i];
    if (!k) return bad_name(what, name, "unknown kind");
    if (np > 2 || (np == 2 && k->has_arg == 0))
        return bad_name(what, name, "takes no number");
    if (np == 1 && k->has_arg == 2) return bad_name(what, name, "needs a number");
    long arg = 0;
    if (np == 2) {
        char w[300];
        snprintf(w, sizeof w, "%s: placement '%s'", what, name);
        qb_status s = qb_parse_int(w, parts[1], 0, 1 << 20, &arg);
        if (s != QB_OK) return s;
    }
    if (strcmp(k->kind, "core") == 0 && has_order)
        return bad_name(what, name, "one core has no thread order");

    hwloc_obj_type_t leaf = k->smt ? HWLOC_OBJ_PU : core_type(t);
    int ncores = qb_topo_n_cores(t);
    hwloc_const_cpuset_t scope = hwloc_topology_get_topology_cpuset(t->h);
    int want = -1; /* threads: -1 = every leaf in scope */
    if (strcmp(k->kind, "core") == 0) {
        if (arg >= ncores)
            return qb_error(QB_ERR_ARG, "%s: placement '%s': the topology has %d core%s (core:0..core:%d)",
                            what, name, ncores, ncores == 1 ? "" : "s", ncores - 1);
        scope = hwloc_get_obj_by_type(t->h, leaf, (unsigned)arg)->cpuset;
        want = 1;
    } else if (strcmp(k->kind, "cores") == 0) {
        if (arg < 1 || arg > ncores)
            return qb_error(QB_ERR_ARG, "%s: placement '%s': asks for %ld threads but the topology "
                            "has %d core%s (%s)", what, name, arg, ncores, ncores == 1 ? "" : "s",
                            t->source);
        want = (int)arg;
    } else if (k->container != HWLOC_OBJ_MACHINE) {
        int n = qb_topo_count(t, k->container);
        if (arg >= n) {
            if (n == 0)
                return qb_error(QB_ERR_ARG, "%s: placement '%s': the topology has no %s", what, name,
                                container_noun(k->container));
            return qb_error(QB_ERR_ARG, "%s: placement '%s': the topology has %d %s%s (%s:0..%s:%d)",
                            what, name, n, container_noun(k->container), n == 1 ? "" : "s", k->kind,
                            k->kind, n - 1);
        }
        scope = hwloc_get_obj_by_type(t->h, k->container, (unsigned)arg)->cpuset;
    }

    obj_list leaves;
    qb_status s = leaves_in(t, scope, leaf, order, &leaves);
    if (s != QB_OK) return s;
    if (want < 0) want = leaves.n;
    if (want == 0 || leaves.n < want) {
        free(leaves.v);
        return qb_error(QB_ERR_ARG, "%s: placement '%s': no processing units there", what, name);
    }
    out->nthreads = want;
    out->thread_set = qb_calloc((size_t)want, sizeof *out->thread_set);
    out->cpuset = hwloc_bitmap_alloc();
    out->nodeset = hwloc_bitmap_alloc();
    if (!out->thread_set || !out->cpuset || !out->nodeset) {
        free(leaves.v);
        qb_placement_free(out);
        return qb_error(QB_ERR_NOMEM, "out of memory resolving placement '%s'", name);
    }
    for (int i = 0; i < want; i++) {
        out->thread_set[i] = hwloc_bitmap_dup(leaves.v[i]->cpuset);
        hwloc_bitmap_or(out->cpuset, out->cpuset, leaves.v[i]->cpuset);
    }
    free(leaves.v);
    if (k->container == HWLOC_OBJ_NUMANODE)
        hwloc_bitmap_copy(out->nodeset, hwloc_get_obj_by_type(t->h, HWLOC_OBJ_NUMANODE,
                                                              (unsigned)arg)->nodeset);
    else
        hwloc_cpuset_to_nodeset(t->h, out->cpuset, out->nodeset);
    hwloc_bitmap_list_snprintf(out->cpuset_list, sizeof out->cpuset_list, out->cpuset);

    /* canonical name: the default order and core:0 are spelled out never */
    if (np == 2 && !(strcmp(k->kind, "core") == 0 && arg == 0))
        snprintf(out->name, sizeof out->name, "%s:%ld%s", k->kind, arg,
                 order == QB_ORDER_SCATTER ? ":scatter" : "");
    else
        snprintf(out->name, sizeof out->name, "%s%s", k->kind, order == QB_ORDER_SCATTER ? ":scatter" : "");
    return QB_OK;
}

qb_status qb_placement_bind_thread(const qb_topo *t, const qb_placement *p, int tid)
{
    if (tid < 0 || tid >= p->nthreads)
        return qb_error(QB_ERR_INTERNAL, "thread %d outside placement %s (%d threads)", tid, p->name,
                        p->nthreads);
    if (hwloc_set_cpubind(t->h, p->thread_set[tid], HWLOC_CPUBIND_THREAD) != 0) {
        char set[64];
        hwloc_bitmap_list_snprintf(set, sizeof set, p->thread_set[tid]);
        return qb_error(QB_ERR_IO, "placement %s: cannot bind thread %d to PUs %s (%s)", p->name, tid,
                        set, strerror(errno));
    }
    return QB_OK;
}

qb_status qb_placement_bind_memory(const qb_topo *t, const qb_placement *p)
{
    if (hwloc_set_membind(t->h, p->nodeset, HWLOC_MEMBIND_BIND, HWLOC_MEMBIND_BYNODESET) != 0) {
        char set[64];
        hwloc_bitmap_list_snprintf(set, sizeof set, p->nodeset);
        return qb_error(QB_ERR_IO, "placement %s: cannot bind memory to NUMA node(s) %s (%s)", p->name,
                        set, strerror(errno));
    }
    return QB_OK;
}
