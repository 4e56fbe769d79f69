/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hierarchy.h"

bool hierarchy_vm_active(uint64_t idle_usec) {
        return idle_usec < HIERARCHY_IDLE_USEC;
}

/* Relative, no empty component: "a/b", not "", "/a", "a//b" or "a/". */
static bool path_valid(const char *p) {
        if (!p || !*p || *p == '/')
                return false;
        for (; *p; p++)
                if (*p == '/' && (p[1] == '/' || p[1] == '\0'))
                        return false;
        return true;
}

/* `prefix` (of length len) is a proper ancestor of `path`. */
static bool is_below(const char *path, const char *prefix, size_t len) {
        return strncmp(path, prefix, len) == 0 && path[len] == '/';
}

static int cmp_nodes(const void *a, const void *b) {
        return strcmp(((const HierarchyNode *)a)->cgroup, ((const HierarchyNode *)b)->cgroup);
}

static bool names_vm(const HierarchyVm *vms, size_t n, const char *path, size_t len) {
        for (size_t i = 0; i < n; i++)
                if (strlen(vms[i].cgroup) == len && strncmp(vms[i].cgroup, path, len) == 0)
                        return true;
        return false;
}

static bool names_node(const HierarchyNode *nodes, size_t n, const char *path, size_t len) {
        for (size_t i = 0; i < n; i++)
                if (strlen(nodes[i].cgroup) == len && strncmp(nodes[i].cgroup, path, len) == 0)
                        return true;
        return false;
}

/* a + b, held at HIERARCHY_WEIGHT_MAX (the result is clamped to it anyway). */
static uint32_t add_held(uint32_t a, uint32_t b) {
        return b >= HIERARCHY_WEIGHT_MAX - a ? HIERARCHY_WEIGHT_MAX : a + b;
}

int hierarchy_compute(const HierarchyVm *vms, size_t n_vms, HierarchyNode **ret_nodes, size_t *ret_n) {
        HierarchyNode *nodes = NULL;
        size_t n = 0, alloc = 0;

        for (size_t i = 0; i < n_vms; i++)
                if (!path_valid(vms[i].cgroup))
                        return -EINVAL;

        for (size_t i = 0; i < n_vms; i++)
                for (const char *p = strchr(vms[i].cgroup, '/'); p; p = strchr(p + 1, '/')) {
                        size_t len = (size_t)(p - vms[i].cgroup);

                        if (names_vm(vms, n_vms, vms[i].cgroup, len) || names_node(nodes, n, vms[i].cgroup, len))
                                continue;
                        if (n == alloc) {
                                size_t grown = alloc ? alloc * 2 : 8;
                                HierarchyNode *g = realloc(nodes, grown * sizeof(*g));
                                if (!g)
                                        goto oom;
                                nodes = g;
                                alloc = grown;
                        }
                        nodes[n].cgroup = strndup(vms[i].cgroup, len);
                        if (!nodes[n].cgroup)
                                goto oom;
                        nodes[n++].weight = 0;
                }

        if (n > 0)
                qsort(nodes, n, sizeof(*nodes), cmp_nodes);

        for (size_t k = 0; k < n; k++) {
                size_t len = strlen(nodes[k].cgroup);
                uint32_t active = 0, all = 0;
                bool any = false;

                for (size_t i = 0; i < n_vms; i++) {
                        if (!vms[i].managed || !is_below(vms[i].cgroup, nodes[k].cgroup, len))
                                continue;
                        any = true;
                        all = add_held(all, vms[i].weight);
                        if (hierarchy_vm_active(vms[i].idle_usec))
                                active = add_held(active, vms[i].weight);
                }
                if (any) {
                        uint32_t w = active > 0 ? active : all;
                        nodes[k].weight = w < HIERARCHY_WEIGHT_MIN ? HIERARCHY_WEIGHT_MIN : w;
                }
        }

        *ret_nodes = nodes;
        *ret_n = n;
        return 0;

oom:
        hierarchy_nodes_free(nodes, n);
        return -ENOMEM;
}

HierarchyNode *hierarchy_nodes_free(HierarchyNode *nodes, size_t n) {
        for (size_t i = 0; nodes && i < n; i++)
                free(nodes[i].cgroup);
        free(nodes);
        return NULL;
}

int hierarchy_parent(const HierarchyNode *nodes, size_t n, const char *cgroup) {
        int best = -ENOENT;
        size_t best_len = 0;

        for (size_t k = 0; cgroup && k < n; k++) {
                size_t len = strlen(nodes[k].cgroup);

                if (len > best_len && is_below(cgroup, nodes[k].cgroup, len)) {
                        best = (int)k;
                        best_len = len;
                }
        }
        return best;
}
