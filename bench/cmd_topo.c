/* `qbench topo`: the topology (discovered, synthetic or XML) and the
 * placements a sweep would run on it. */
#include <stdio.h>
#include <string.h>
#include "args.h"
#include "commands.h"
#include "topo.h"

static void print_tree(hwloc_topology_t h, hwloc_obj_t obj, int depth)
{
    char type[64], attr[128] = "";
    hwloc_obj_type_snprintf(type, sizeof type, obj, 0);
    hwloc_obj_attr_snprintf(attr, sizeof attr, obj, " ", 0);
    printf("%*s%s L#%u", depth * 2, "", type, obj->logical_index);
    if (obj->type == HWLOC_OBJ_PU || obj->type == HWLOC_OBJ_NUMANODE) printf(" (P#%u)", obj->os_index);
    if (attr[0]) printf(" (%s)", attr);
    printf("\n");
    for (hwloc_obj_t m = obj->memory_first_child; m; m = m->next_sibling) print_tree(h, m, depth + 1);
    for (unsigned i = 0; i < obj->arity; i++) print_tree(h, obj->children[i], depth + 1);
}

static void print_placement(const qb_topo *t, const char *name, const char *tag)
{
    qb_placement p;
    if (qb_placement_resolve(t, "qbench topo", name, &p) != QB_OK) return;
    char nodes[64];
    hwloc_bitmap_list_snprintf(nodes, sizeof nodes, p.nodeset);
    printf("  %-18s %3d thread%s  PUs %-14s NUMA %-6s %s\n", p.name, p.nthreads, p.nthreads == 1 ? " " : "s",
           p.cpuset_list, nodes, tag);
    qb_placement_free(&p);
}

int qb_cmd_topo(int argc, char **argv)
{
    const char *source = NULL, *xml = NULL;
    qb_opt opts[] = {
        {"--topology", QB_OPT_STR, &source, "T", "synthetic (\"pack:2 numa:2 core:8 pu:2\") or XML file"},
        {"--xml", QB_OPT_STR, &xml, "FILE", "also write the topology as hwloc XML"},
    };
    qb_args a = {NULL, 0, 0, 0};
    qb_status s = qb_args_parse("topo", argc, argv, opts, 2, &a);
    if (s != QB_OK) return qb_cmd_fail("topo", s);
    if (a.help) {
        qb_args_usage(stdout, "topo", "[--topology T] [--xml FILE]", opts, 2);
        return 0;
    }
    qb_topo *t;
    if ((s = qb_topo_load(&t, source)) != QB_OK) return qb_cmd_fail("topo", s);
    char summary[256];
    qb_topo_summary(t, summary, sizeof summary);
    printf("topology: %s: %s\n", qb_topo_source(t), summary);
    print_tree(qb_topo_hwloc(t), hwloc_get_root_obj(qb_topo_hwloc(t)), 1);

    printf("\nplacements (default = what `placements = default` runs):\n");
    char names[64][32];
    int nd = qb_topo_default_placements(t, names, 64);
    for (int i = 0; i < nd; i++) print_placement(t, names[i], "default");
    int ncores = qb_topo_n_cores(t);
    char name[64];
    for (int n = 2; n < ncores; n *= 2) {
        snprintf(name, sizeof name, "cores:%d", n);
        print_placement(t, name, "");
        snprintf(name, sizeof name, "cores:%d:scatter", n);
        print_placement(t, name, "");
    }
    static const struct { hwloc_obj_type_t type; const char *kind; } containers[] = {
        {HWLOC_OBJ_PACKAGE, "package"}, {HWLOC_OBJ_NUMANODE, "numa"}, {HWLOC_OBJ_L3CACHE, "l3"}};
    for (size_t k = 0; k < sizeof containers / sizeof containers[0]; k++) {
        int n = qb_topo_count(t, containers[k].type);
        for (int i = 0; i < n && n > 1; i++) {
            snprintf(name, sizeof name, "%s:%d", containers[k].kind, i);
            int is_default = 0;
            for (int j = 0; j < nd; j++) is_default |= strcmp(names[j], name) == 0;
            if (!is_default) print_placement(t, name, "");
        }
    }
    if (!qb_topo_is_this_system(t)) printf("(planning only: a sweep binds threads on the machine it runs on)\n");
    if (xml && (s = qb_topo_export_xml(t, xml)) != QB_OK) {
        qb_topo_free(t);
        return qb_cmd_fail("topo", s);
    }
    qb_topo_free(t);
    return 0;
}
