/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <string.h>

#include "policy/keys.h"
#include "layers.h"

/* Where values of `set` say they come from in validation errors: schedd names
 * its override file, which a scenario does not have. */
#define SIM_LAYERS_SOURCE "schedctl set"

void sim_layers_init(SimLayers *l, const Policy *files) {
        l->files = files;
        policy_init(&l->override);
        policy_init(&l->runtime);
}

void sim_layers_done(SimLayers *l) {
        policy_done(&l->override);
        policy_done(&l->runtime);
        l->files = NULL;
}

int sim_layers_candidate(const SimLayers *l, Policy *ret) {
        Policy p;
        int r;

        policy_init(&p);
        r = policy_copy(&p, l->files);
        if (r >= 0)
                r = policy_merge(&p, &l->override);
        if (r >= 0)
                r = policy_merge(&p, &l->runtime);
        if (r < 0) {
                policy_done(&p);
                return -ENOMEM;
        }
        policy_done(ret);
        *ret = p;
        return 0;
}

/* Drops VM entries that set nothing, as schedd prunes its overlays. */
static void prune(Policy *p) {
        for (size_t i = 0; i < p->n_vms;) {
                if (policy_vm_is_empty(&p->vms[i]))
                        (void)policy_remove_vm(p, p->vms[i].name);
                else
                        i++;
        }
}

static int apply(SimLayers *n, const ScenarioEvent *e, PolicyError *err) {
        int r;

        if (e->verb == SCENARIO_SCHEDCTL_RESET && e->n_keys == 0) {
                (void)policy_remove_vm(&n->override, e->vm);
                (void)policy_remove_vm(&n->runtime, e->vm);
                return 0;
        }
        for (size_t i = 0; i < e->n_keys; i++) {
                PolicyKey k;

                r = policy_key_parse(e->vm, e->keys[i], &k, err);
                if (r < 0)
                        return r;
                if (e->verb == SCENARIO_SCHEDCTL_RESET) {
                        (void)policy_unset_key(&n->override, e->vm, &k);
                        (void)policy_unset_key(&n->runtime, e->vm, &k);
                        continue;
                }
                r = policy_set_key(e->runtime ? &n->runtime : &n->override, e->vm, e->keys[i], e->values[i],
                                   SIM_LAYERS_SOURCE, err);
                if (r < 0)
                        return r;
                if (!e->runtime)
                        (void)policy_unset_key(&n->runtime, e->vm, &k);
        }
        return 0;
}

int sim_layers_step(const SimLayers *l, const Policy *running, const ScenarioEvent *e, SimLayers *ret,
                    PolicyError *err) {
        SimLayers n;
        int r;

        if (e->kind != SCENARIO_EVENT_SCHEDCTL || e->verb == SCENARIO_SCHEDCTL_QUERY)
                return -EOPNOTSUPP;
        if (!e->vm || !policy_find_vm(running, e->vm))
                return policy_error(err, -EINVAL, NULL, NULL, "no VM named \"%s\" in the policy", e->vm ? e->vm : "");

        sim_layers_init(&n, l->files);
        r = policy_copy(&n.override, &l->override);
        if (r >= 0)
                r = policy_copy(&n.runtime, &l->runtime);
        if (r < 0)
                r = policy_error(err, -ENOMEM, NULL, NULL, "out of memory");
        else
                r = apply(&n, e, err);
        if (r < 0) {
                sim_layers_done(&n);
                return r;
        }
        prune(&n.override);
        prune(&n.runtime);
        *ret = n;
        return 0;
}
