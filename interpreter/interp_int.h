/*
 * interp_int.h - the instance state's layout, shared by instance.c (apply,
 * serialization) and step.c (semantics). Internal to interpreter/.
 *
 * Besides the state proper (what baton_instance_to_json writes), an
 * instance keeps derived indexes so that a step costs time for what it
 * touches, not for everything the instance waits on: joins and gates by
 * (scope, flow/gateway), waits by owner (baton_wait.next_owned), the keys
 * of conditional waits. apply() maintains them with every record and
 * from_json rebuilds them (rebuild_indexes in instance.c); they are never
 * serialized, so stored states keep their format.
 */
#ifndef BATON_INTERPRETER_INT_H
#define BATON_INTERPRETER_INT_H

#include "common/intmap.h"
#include "interpreter/instance.h"

/*
 * Tokens that arrived on an incoming flow of a join, per scope instance.
 * The same layout counts, per (scope, join gateway), the gateway's incoming
 * flows that hold at least one token (`flow` is then the gateway's node
 * index): a parallel join is ready when that count reaches n_incoming.
 */
typedef struct baton_join {
    int64_t scope;
    baton_idx flow;
    uint32_t count;
} baton_join;

/*
 * An open-addressing index over an array of baton_join by (scope, flow):
 * slots hold indices into the array (UINT32_MAX when empty), at most
 * half of them used. Allocated once the array holds more than a few
 * entries (IX_LINEAR in instance.c); until then lookups scan the array.
 */
typedef struct baton_joinix {
    uint32_t *slots;
    uint32_t cap; /* power of two, or 0 */
} baton_joinix;

/*
 * A complex gateway of a scope instance that fired and waits for its reset
 * (BPMN 2.0 13.4.5): `consumed` has bit i set for incoming flow i (in the
 * node's incoming order) that gave a token when it fired.
 */
typedef struct baton_cplx {
    int64_t scope;
    baton_idx gateway;
    uint64_t consumed;
} baton_cplx;

/* A completed activity whose compensation handler may still run. */
typedef struct baton_comp {
    int64_t key;
    int64_t scope;      /* element instance key of the scope it completed in */
    baton_idx activity; /* the completed activity */
    baton_idx handler;  /* its compensation handler activity */
} baton_comp;

struct baton_instance {
    baton_model *model;
    const baton_graph *g;
    int64_t id;
    baton_idx process;
    uint8_t state; /* baton_instance_state; 0 before INSTANCE_CREATED */
    uint64_t seq;  /* sequence number of the last applied record */
    int64_t next_key;
    char *business_key;
    int64_t parent_id, parent_key;
    int64_t root;      /* key of the process element instance */
    cJSON *final_vars; /* the process variables once the process element has ended */

    baton_elem *elems; /* dense; removal moves the last one into the hole */
    uint32_t n_elems, cap_elems;
    baton_intmap elem_map; /* key -> index in elems */

    baton_wait *waits;
    uint32_t n_waits, cap_waits;
    baton_intmap wait_map;

    /* join tokens: order matters (step.c walks it), removal moves the last into the hole */
    baton_join *joins;
    uint32_t n_joins, cap_joins;
    baton_joinix join_ix; /* derived: (scope, flow) -> index in joins */
    baton_join *gates;    /* derived: (scope, gateway) -> incoming flows holding a token */
    uint32_t n_gates, cap_gates;
    baton_joinix gate_ix;

    /* derived: keys of conditional waits, in the order they were opened; may
       hold keys of closed waits (compacted when they outnumber the open ones) */
    int64_t *cond_keys;
    uint32_t n_cond_keys, cap_cond_keys;
    uint32_t n_cond; /* open conditional waits */

    baton_incident *incidents;
    uint32_t n_incidents, cap_incidents;

    baton_comp *comps;
    uint32_t n_comps, cap_comps;

    baton_cplx *cplx;
    uint32_t n_cplx, cap_cplx;
};

/* Mutable lookups for the step function (valid until the next apply). */
baton_elem *baton_inst_elem(baton_instance *inst, int64_t key);
baton_wait *baton_inst_wait(baton_instance *inst, int64_t key);
/* Join tokens at (scope, flow). O(1). */
uint32_t baton_inst_join_count(const baton_instance *inst, int64_t scope, baton_idx flow);
/* How many incoming flows of join `gateway` in `scope` hold a token. O(1). */
uint32_t baton_inst_join_filled(const baton_instance *inst, int64_t scope, baton_idx gateway);
/* The waiting-for-reset state of complex gateway `gateway` in `scope`, or NULL. */
const baton_cplx *baton_inst_cplx(const baton_instance *inst, int64_t scope, baton_idx gateway);
/* True when node n is a join: its incoming tokens are stored until it fires. */
bool baton_inst_is_join(const baton_graph *g, baton_idx n);

#endif
