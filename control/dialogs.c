/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The dialogs sipfp has seen (RFC 3261 12): early from the first tagged
 * response, confirmed by the 2xx, ended by BYE or at dialog_max_s;
 * persisted, so a restart of the control process still lists them.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media.h"
#include "px.h"

/* ---- dialogs -------------------------------------------------------------------- */

/* max_dialogs entries, allocated at start; dense (see px_dlg_remove) */
struct store_dialog *px_dlg;
unsigned px_n_dlg, px_max_dlg;

unsigned px_dialogs(void) { return px_n_dlg + (px_e.b2bua ? b2b_calls() : 0); }

struct hidx px_by_callid; /* dialogs by Call-ID */

struct store_dialog *px_dlg_find(struct sfp_str callid, struct sfp_str t1, struct sfp_str t2)
{
	uint32_t i = hidx_first(&px_by_callid, px_hstr(callid));
	for (; i != HIDX_NONE; i = hidx_next(&px_by_callid, i)) {
		struct store_dialog *d = &px_dlg[i];
		if (!px_str_is(callid, d->call_id))
			continue;
		/* either direction: a BYE from the callee has the tags swapped */
		if ((px_str_is(t1, d->from_tag) && px_str_is(t2, d->to_tag)) ||
		    (px_str_is(t2, d->from_tag) && px_str_is(t1, d->to_tag)))
			return d;
	}
	return NULL;
}

struct store_dialog *px_dlg_add(const struct store_dialog *d)
{
	if (px_n_dlg == px_max_dlg) {
		px_cnt.dialogs_untracked++;
		return NULL;
	}
	px_dlg[px_n_dlg] = *d;
	hidx_add(&px_by_callid, px_n_dlg, px_hs(d->call_id));
	return &px_dlg[px_n_dlg++];
}

/* the last dialog moves into the hole: the array stays dense */
void px_dlg_remove(struct store_dialog *d)
{
	/* a call that was up is over: its media too (an early dialog that
	 * lost to another branch is not the call) */
	if (d->state != PX_DLG_EARLY)
		md_end(d->call_id, "call ended");
	uint32_t i = (uint32_t)(d - px_dlg), last = px_n_dlg - 1;
	store_dialog_del(px_e.db, d);
	hidx_del(&px_by_callid, i, px_hs(d->call_id));
	if (i != last) {
		hidx_del(&px_by_callid, last, px_hs(px_dlg[last].call_id));
		px_dlg[i] = px_dlg[last];
		hidx_add(&px_by_callid, i, px_hs(px_dlg[i].call_id));
	}
	px_n_dlg--;
}

/* early dialogs that will not be confirmed (12.3): the call's, or only
 * the one with this To-tag (a branch that lost) */
void px_dlg_drop_early(const char *call_id, const char *to_tag)
{
	for (bool again = true; again;) {
		again = false;
		uint32_t i = hidx_first(&px_by_callid, px_hs(call_id));
		for (; i != HIDX_NONE; i = hidx_next(&px_by_callid, i))
			if (!strcmp(px_dlg[i].call_id, call_id) && px_dlg[i].state == PX_DLG_EARLY &&
			    (!to_tag || !strcmp(px_dlg[i].to_tag, to_tag))) {
				px_dlg_remove(&px_dlg[i]); /* changes the chain: walk it again */
				again = true;
				break;
			}
	}
}

static int load_dialog(void *ctx, const struct store_dialog *d)
{
	(void)ctx;
	if (px_dlg_add(d))
		px_cnt.dialogs_restored++;
	return 0;
}

void px_dialog_list(px_row_fn row, void *ctx, uint64_t now)
{
	static const char *const st[] = { "?", "early", "confirmed", "ending" };
	char line[512];
	for (unsigned i = 0; i < px_n_dlg; i++) {
		const struct store_dialog *d = &px_dlg[i];
		snprintf(line, sizeof(line), "%s\t%.63s\t%.63s\t%.127s\t%lu\t-", d->state >= 1 && d->state <= 3 ? st[d->state] : "?",
			 d->caller, d->callee, d->call_id,
			 (unsigned long)(now > d->created_ms ? (now - d->created_ms) / 1000 : 0));
		row(ctx, line);
	}
	if (px_e.b2bua)
		b2b_list(row, ctx, now);
}

/* dialogs whose BYE was lost */
void px_dlg_tick(uint64_t now)
{
	for (unsigned i = 0; i < px_n_dlg;) {
		if (now - px_dlg[i].created_ms > px_e.dialog_max_ms) {
			px_e.log("dialog %s (%s -> %s) removed after %u s without BYE", px_dlg[i].call_id,
			      px_dlg[i].caller, px_dlg[i].callee, px_e.dialog_max_ms / 1000);
			px_cnt.dialogs_timed_out++;
			px_dlg_remove(&px_dlg[i]);
		} else {
			i++;
		}
	}
}

int px_dlg_init(uint32_t max)
{
	px_max_dlg = max ? max : 1;
	px_dlg = calloc(px_max_dlg, sizeof(*px_dlg));
	if (!px_dlg || hidx_init(&px_by_callid, px_pow2(px_max_dlg), px_max_dlg))
		return -1;
	px_n_dlg = 0;
	return store_dialog_each(px_e.db, load_dialog, NULL);
}
