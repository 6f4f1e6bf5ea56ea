/* Hardware topology (hwloc) and the named placements a sweep runs on.
 *
 * A topology is discovered from this machine, or - for planning and dry
 * runs - read from an hwloc XML file or built from a synthetic description
 * such as "pack:2 numa:2 core:8 pu:2". Placements (docs/ARCHITECTURE.md):
 *
 *   core, core:i      one thread on core i (default 0)
 *   cores:N           N threads, one per core
 *   numa:i            one thread per core of NUMA node i, memory on node i
 *   package:i, l3:i   one thread per core of that package / L3 cache
 *   all               one thread per core of the machine
 *   all+smt           one thread per PU (hardware thread)
 *
 * followed optionally by ":compact" (the default: neighbouring cores first)
 * or ":scatter" (round-robin across packages, NUMA nodes, caches, cores).
 * The order decides which cores `cores:N` takes and which PU thread i of the
 * pool is bound to. Errors follow common/status.h and name `what` (the spec
 * line or flag) and what the topology has. */
#ifndef QB_TOPO_H
#define QB_TOPO_H

#include <hwloc.h>
#include <stddef.h>
#include "status.h"

typedef struct qb_topo qb_topo;

/* source: NULL or "" discovers this machine; a path ending in ".xml" (or an
 * existing file) is read as hwloc XML; anything else is a synthetic
 * description. */
qb_status qb_topo_load(qb_topo **out, const char *source);
void qb_topo_free(qb_topo *t);

hwloc_topology_t qb_topo_hwloc(const qb_topo *t);
/* 1 when the topology is this machine (threads can be bound). */
int qb_topo_is_this_system(const qb_topo *t);
/* Where it came from: "this machine", "synthetic 'pack:2 ...'", "XML x.xml". */
const char *qb_topo_source(const qb_topo *t);

/* "1 package, 1 numa, 1 l3, 2 cores, 2 pus" */
void qb_topo_summary(const qb_topo *t, char *buf, size_t len);
int qb_topo_count(const qb_topo *t, hwloc_obj_type_t type);
/* Cores (PUs when the topology has no Core objects). */
int qb_topo_n_cores(const qb_topo *t);

/* Writes hwloc's XML export to `path` (temp file + rename). */
qb_status qb_topo_export_xml(const qb_topo *t, const char *path);

/* The placements a sweep runs when the spec says `default`: core, numa:i for
 * each NUMA node when there are several, all, and all+smt when cores have
 * more than one PU. Writes up to `cap` names (each < 32 chars) into
 * names[i]; returns the count. */
int qb_topo_default_placements(const qb_topo *t, char names[][32], int cap);

typedef enum { QB_ORDER_COMPACT, QB_ORDER_SCATTER } qb_order;

typedef struct {
    char name[48];           /* canonical: "cores:2", "numa:0:scatter" */
    int nthreads;
    hwloc_bitmap_t *thread_set; /* [nthreads] cpuset thread i is bound to */
    hwloc_bitmap_t cpuset;   /* union of thread_set */
    hwloc_bitmap_t nodeset;  /* NUMA nodes for memory binding */
    char cpuset_list[128];   /* "0-1" (OS indexes, hwloc list syntax) */
} qb_placement;

/* Resolves a placement name on topology t. */
qb_status qb_placement_resolve(const qb_topo *t, const char *what, const char *name,
                               qb_placement *out);
void qb_placement_free(qb_placement *p);

/* Binds the calling thread to thread `tid`'s cpuset (hwloc_set_cpubind). */
qb_status qb_placement_bind_thread(const qb_topo *t, const qb_placement *p, int tid);
/* Binds this process's future allocations to the placement's NUMA nodes. */
qb_status qb_placement_bind_memory(const qb_topo *t, const qb_placement *p);

#endif
