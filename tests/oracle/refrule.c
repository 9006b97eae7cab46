/* SPDX-License-Identifier: MIT */
/* The reference rule (refrule.h). */
#include <string.h>

#include "refrule.h"

enum { OB_NONE, OB_PENDING, OB_DONE };

static struct {
	unsigned nkeys, per_space;
	uint32_t seq;
	struct rr_key {
		uint32_t cur;
		bool present;
		uint8_t ob[RR_MAXV];
		int8_t owner[RR_MAXV];
		uint32_t seq[RR_MAXV];
	} k[RR_MAXKEYS];
} RR;

void rr_reset(unsigned nkeys, unsigned per_space)
{
	memset(&RR, 0, sizeof(RR));
	RR.nkeys = nkeys < RR_MAXKEYS ? nkeys : RR_MAXKEYS;
	RR.per_space = per_space ? per_space : 1;
	for (unsigned i = 0; i < RR.nkeys; i++)
		RR.k[i].present = true;
}

bool rr_can_retire(unsigned key)
{
	return key < RR.nkeys && RR.k[key].cur + 1 < RR_MAXV;
}

bool rr_retire(unsigned key, bool present, int owner)
{
	struct rr_key *k = &RR.k[key];

	if (!rr_can_retire(key))
		return false;
	k->ob[k->cur] = OB_PENDING;
	k->owner[k->cur] = (int8_t)owner;
	k->seq[k->cur] = RR.seq++;
	k->cur++;
	k->present = present;
	return true;
}

ORACLE_NOCOV void rr_discharge_owner(int owner)
{
	for (unsigned i = 0; i < RR.nkeys; i++)
		for (unsigned v = 0; v < RR.k[i].cur; v++)
			if (RR.k[i].ob[v] == OB_PENDING && RR.k[i].owner[v] == owner)
				RR.k[i].ob[v] = OB_DONE;
}

/*
 * Only batched versions retired before the check started: one batched while
 * it ran (an interrupt) came after its read of the generation word, and one
 * retired by a synchronous call still running elsewhere is that call's to
 * complete.
 */
ORACLE_NOCOV void rr_discharge_space(unsigned space, uint32_t start)
{
	unsigned first = space * RR.per_space;

	for (unsigned i = first; i < first + RR.per_space && i < RR.nkeys; i++)
		for (unsigned v = 0; v < RR.k[i].cur; v++)
			if (RR.k[i].ob[v] == OB_PENDING && RR.k[i].owner[v] >= 0 &&
			    RR.k[i].seq[v] < start)
				RR.k[i].ob[v] = OB_DONE;
}

uint32_t rr_now(void)
{
	return RR.seq;
}

uint32_t rr_cur(unsigned key)
{
	return key < RR.nkeys ? RR.k[key].cur : 0;
}

bool rr_present(unsigned key)
{
	return key < RR.nkeys && RR.k[key].present;
}

bool rr_stale(unsigned key, uint32_t version)
{
	return key < RR.nkeys && version < RR.k[key].cur && RR.k[key].ob[version] == OB_DONE;
}
