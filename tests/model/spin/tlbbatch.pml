/* SPDX-License-Identifier: MIT */
/*
 * Spin model of the tlbbatch protocol (lib/tlbbatch.c) on the arm64
 * invalidation rules. Exhaustive check of:
 *
 *   P1  no access through a stale entry after a completed flush:
 *         - after the reclaimer's tlbb_flush() returns, its pages' frames are
 *           free: no CPU may still hold a translation of them;
 *         - after mprotect(READ) returns, no CPU may hold a writable entry;
 *         - after a zap returns, no CPU may hold any entry of the page.
 *       Checked at the instant each operation returns. Entries of a cleared
 *       PTE never come back and a read-only PTE never fills a writable
 *       entry, so "no such entry now" is the same as "no such access ever".
 *   P2  never pending == flushed while a batch holds an announced (bumped)
 *       invalidation that no completed TLBI has covered yet. Checked at
 *       every write of the generation word (the only way P2 can break).
 *
 * The world: 3 CPUs, 2 address spaces with 2 pages each, every page under
 * its own page-table lock (split PTLs: that is what lets a flusher of one
 * page race with an adder of another page of the same space). Processes:
 *   Reclaimer  one unmap batch: clear PTE + tlbb_add_page under the PTL, in
 *              any order, flush at any point and free the frames, migrate
 *              between CPUs (the port's context switch executes DSB ISH).
 *   Changer    mprotect(READ) of one page, CPU 1: race check, then its own
 *              TLBI for what it changed.
 *   Zapper     MADV_DONTNEED of one page, CPU 2: race check, then its own
 *              synchronous TLBI for what it cleared.
 *   Walker     the hardware: any CPU may fill any present PTE at any time.
 *
 * arm64 invalidation: a TLBI issued by CPU c marks ("dooms") the entries
 * cached at that moment; they are only guaranteed gone when c itself
 * executes DSB. A DSB on another CPU completes nothing of it. Entries
 * filled after the issue are not doomed (the hardware may have passed that
 * TLB already). Early completion is not modelled: it only removes entries,
 * and the protocol never reads TLB state, so it cannot create a violation.
 *
 * The generation word keeps the library's layout, shrunk: pending in bits
 * 0..2, guard bit 3, flushed in bits 4..6; PENDING_LARGE = 7/2 = 3. Before
 * the processes start, space 0's word goes through up to HISTORY quiescent
 * operations (bumps of already-flushed batches and publishes), using the
 * variant's own bump, so every reachable starting word is covered,
 * including words that make the very next add take the reset path.
 *
 * Sequential consistency is assumed (Promela): the C code's seq_cst RMWs and
 * acquire loads are what make that assumption hold; weak-memory reorderings
 * are for the sim/TSan tests, not for this model.
 *
 * Variants (-D): MUT_NO_RACE_CHECK, MUT_BARE_BARRIER, MUT_SKIP_BUMP,
 * MUT_NO_BUMP, MUT_PLAIN_STORE, MUT_NO_RESET, MUT_NO_SWITCH_DSB,
 * MUT_NO_BATCH_DSB: each removes one step and must yield a counterexample.
 * PROBE_*: reachability probes (assert(false) at an interesting point) that
 * show the model really reaches the reset path and the races.
 */

#define NCPU 3
#define NTLB 1
#ifndef NPAGE
#define NPAGE 3            /* pages 0, 1: space 0; page 2 (and 3): space 1 */
#endif
#define ALLPAGES ((1 << NPAGE) - 1)
#define SPACE(p) ((p) / 2)
#define SPACE_PAGES(s) ((3 << (2 * (s))) & ALLPAGES)
#define BIT(p) (1 << (p))

#ifndef GEN_BITS
#define GEN_BITS 3
#endif
#define GEN_MASK ((1 << GEN_BITS) - 1)
#define GEN_LARGE (GEN_MASK / 2)
#define GEN_SHIFT (GEN_BITS + 1)   /* one guard bit between the fields */
#define PENDING(w) ((w) & GEN_MASK)
#define FLUSHED(w) (((w) >> GEN_SHIFT) & GEN_MASK)

#ifndef HISTORY
#define HISTORY GEN_MASK
#endif
#ifndef MIGRATIONS
#define MIGRATIONS 1
#endif

#define CPU_CHANGER 1
/*
 * Pages 0 and 1 are interchangeable (same space, same initial state, and
 * the reclaimer and zapper treat them alike), as are pages 2 and 3: so the
 * changer picks the first page of each space without loss of generality.
 */
#define CHANGER_PAGES (BIT(0) | BIT(2))
#define CPU_ZAPPER 2

/* PTE / TLB entry permission */
#define NONE 0
#define RO 1
#define RW 2

byte word[2];              /* per-space generation word */
byte pte[NPAGE];           /* page tables */
bit ptl[NPAGE];            /* split page-table locks */

typedef tlb_t {
	byte perm[NPAGE];  /* cached entry: NONE / RO / RW */
	byte doom[NPAGE];  /* bitmask of CPUs whose incomplete TLBI covers it */
};
tlb_t tlb[NTLB];

/* Ghosts for P2. */
byte cover[NCPU];          /* pages whose PTE was already clear when c issued a TLBI covering them */
byte complete;             /* pages whose post-clear invalidation has completed */
byte announced;            /* pages whose add has bumped (or would have) */

inline lock(p) { atomic { ptl[p] == 0 -> ptl[p] = 1 } }
inline unlock(p) { ptl[p] = 0 }

/* P2 at the instant the word of space s was written. */
inline check_p2(s)
{
#ifndef NO_P2
	assert(PENDING(word[s]) != FLUSHED(word[s]) ||
	       (announced & ~complete & SPACE_PAGES(s)) == 0)
#else
	skip
#endif
}

/* CPU c issues a TLBI covering the pages in mask m (not yet complete). */
inline tlbi(c, m)
{
	d_step {
		i = 0;
		do
		:: i < NTLB * NPAGE ->
			if
			:: (m & BIT(i % NPAGE)) && tlb[i / NPAGE].perm[i % NPAGE] != NONE ->
				tlb[i / NPAGE].doom[i % NPAGE] = tlb[i / NPAGE].doom[i % NPAGE] | BIT(c)
			:: else -> skip
			fi;
			i++
		:: else -> break
		od;
		i = 0;
		do
		:: i < NPAGE ->
			if
			:: (m & BIT(i)) && pte[i] == NONE -> cover[c] = cover[c] | BIT(i)
			:: else -> skip
			fi;
			i++
		:: else -> break
		od;
		i = 0
	}
}

/* CPU c executes DSB ISH: completes exactly the TLBIs c itself issued. */
inline dsb(c)
{
	d_step {
		i = 0;
		do
		:: i < NTLB * NPAGE ->
			if
			:: tlb[i / NPAGE].doom[i % NPAGE] & BIT(c) ->
				tlb[i / NPAGE].perm[i % NPAGE] = NONE;
				tlb[i / NPAGE].doom[i % NPAGE] = 0
			:: else -> skip
			fi;
			i++
		:: else -> break
		od;
		complete = complete | cover[c];
		cover[c] = 0;
		i = 0
	}
}

/* P1: no CPU holds an entry of page p with permission >= minperm. */
inline assert_no_entry(p, minperm)
{
	d_step {
		i = 0;
		do
		:: i < NTLB -> assert(tlb[i].perm[p] < minperm); i++
		:: else -> break
		od;
		i = 0
	}
}

/*
 * space_bump_pending(): after the arch add. One bump per add; past
 * PENDING_LARGE the word is reset by cmpxchg to pending=1, flushed=0.
 * The P2 ghost for page p is set in the same atomic step as the word write,
 * and so is the PTL release that follows the add (it commutes with every
 * step but another process's lock of p, so nothing is lost by fusing it).
 */
inline bump_unlock(s, p)
{
	old = word[s];
	do
#ifdef MUT_NO_BUMP
	:: atomic { announced = announced | BIT(p); unlock(p); break }
#elif defined(MUT_SKIP_BUMP)
	/* "already pending, no need to bump": folds this add into an earlier
	 * pending value */
	:: atomic {
		if
		:: PENDING(word[s]) != FLUSHED(word[s]) -> skip
		:: else -> word[s] = word[s] + 1
		fi;
		announced = announced | BIT(p);
		check_p2(s);
		unlock(p);
		break
	}
#else
#ifndef MUT_NO_RESET
	:: PENDING(old) > GEN_LARGE ->
		atomic {
			if
			:: word[s] == old ->
				word[s] = 1;
				announced = announced | BIT(p);
				check_p2(s);
#ifdef PROBE_RESET
				assert(false);
#endif
				unlock(p);
				break
			:: else -> old = word[s] /* the failed cmpxchg reloads */
			fi
		}
#endif
	:: else ->
		atomic {
			word[s] = word[s] + 1;
			announced = announced | BIT(p);
			check_p2(s);
			unlock(p);
			break
		}
#endif
	od;
	old = 0
}

/* backend flush_space() from CPU c: TLBI ASIDE1IS + DSB ISH, both ours. */
inline flush_space(s, c)
{
#ifndef MUT_BARE_BARRIER
	tlbi(c, SPACE_PAGES(s));
#endif
	dsb(c)
}

/*
 * tlbb_flush_pending(): the race check, under the PTL. Three steps another
 * process can interleave with: read the word; flush the whole space from
 * this CPU (TLBI, then DSB); cmpxchg flushed = pending.
 */
inline flush_pending(s, c)
{
#ifndef MUT_NO_RACE_CHECK
	seen = word[s];
	if
	:: PENDING(seen) == FLUSHED(seen) -> skip
	:: else ->
#ifdef PROBE_STALE_WINDOW
		/* a writable entry of a cleared page is alive right now */
		assert(!(tlb[0].perm[p] == RW && pte[p] == NONE));
#endif
		flush_space(s, c);
		atomic {
#ifdef MUT_PLAIN_STORE
			word[s] = PENDING(seen) | (PENDING(seen) << GEN_SHIFT);
			check_p2(s)
#else
			if
			:: word[s] == seen ->
				word[s] = PENDING(seen) | (PENDING(seen) << GEN_SHIFT);
				check_p2(s)
			:: else ->
#ifdef PROBE_LOST_UPDATE
				/* a bump (or reset) arrived during our flush */
				assert(false);
#endif
				skip
			fi
#endif
		}
	fi;
#endif
	seen = 0
}

/* Pick a page whose PTL is free, and take the PTL (one step). */
inline pick_and_lock(p, allowed)
{
	atomic {
		if
		:: (allowed & BIT(0)) && ptl[0] == 0 -> p = 0
		:: (allowed & BIT(1)) && ptl[1] == 0 -> p = 1
		:: (allowed & BIT(2)) && ptl[2] == 0 -> p = 2
#if NPAGE > 3
		:: (allowed & BIT(3)) && ptl[3] == 0 -> p = 3
#endif
		fi;
		ptl[p] = 1
	}
}

proctype Reclaimer()
{
	byte rcpu = 0, p, i, old, todo = ALLPAGES, batch = 0, nmig = 0;

	do
	:: todo != 0 ->
		pick_and_lock(p, todo);
		atomic {
			todo = todo & ~BIT(p);
			if
			:: pte[p] != NONE ->
				/*
				 * The caller clears the PTE, then tlbb_add_page:
				 * backend add = DSB ISHST + TLBI VAE1IS from this
				 * CPU, not waited for. One step: with the PTE clear
				 * nothing can refill p in between, and a racing
				 * TLBI or DSB of p commutes with ours.
				 */
				pte[p] = NONE;
				tlbi(rcpu, BIT(p));
				batch = batch | BIT(p)
			:: else ->
				/* zapped already: nothing to unmap */
				unlock(p);
				p = NPAGE
			fi
		}
		if
		:: p < NPAGE -> bump_unlock(SPACE(p), p)
		:: else -> skip
		fi;
		p = 0
	:: batch != 0 ->
		/*
		 * tlbb_flush: backend flush = DSB ISH on this CPU, which must be
		 * the issuing one (or the switch below executed DSB). Then the
		 * frames are freed: nothing may translate to them any more.
		 */
		atomic {
#ifndef MUT_NO_BATCH_DSB
			dsb(rcpu);
#endif
			p = 0;
			do
			:: p < NPAGE ->
				if
				:: batch & BIT(p) -> assert_no_entry(p, RO)
				:: else -> skip
				fi;
				p++
			:: else -> break
			od;
			batch = 0;
			p = 0
		}
	:: nmig < MIGRATIONS ->
		/* context switch: the port executes DSB ISH on the CPU left */
		atomic {
#ifndef MUT_NO_SWITCH_DSB
			dsb(rcpu);
#endif
			nmig++;
			if
			:: rcpu != 0 -> rcpu = 0
			:: rcpu != 1 -> rcpu = 1
			:: rcpu != 2 -> rcpu = 2
			fi
		}
	:: todo == 0 && batch == 0 -> break
	od
}

/* mprotect(PROT_READ) of one page from CPU 1. */
proctype Changer()
{
	byte p, i, seen;

	pick_and_lock(p, CHANGER_PAGES);
	flush_pending(SPACE(p), CPU_CHANGER);
	/*
	 * Its own maintenance for what it changed (RW -> RO, TLBI, DSB) and
	 * the return: one step, because no writable entry can be filled once
	 * the PTE is read-only.
	 */
	atomic {
		if
		:: pte[p] == RW ->
			pte[p] = RO;
			tlbi(CPU_CHANGER, BIT(p));
			dsb(CPU_CHANGER)
		:: else -> skip  /* nothing present (or already read-only): no maintenance */
		fi;
		unlock(p);
		assert_no_entry(p, RW)
	}
}

/* MADV_DONTNEED / zap of one page from CPU 2. */
proctype Zapper()
{
	byte p, i, seen;

	pick_and_lock(p, ALLPAGES);
	flush_pending(SPACE(p), CPU_ZAPPER);
	atomic {
		if
		:: pte[p] != NONE ->
			pte[p] = NONE;
			tlbi(CPU_ZAPPER, BIT(p));
			dsb(CPU_ZAPPER)
		:: else -> skip  /* nothing present: frees nothing, flushes nothing */
		fi;
		unlock(p);
		assert_no_entry(p, RO)
	}
}

/*
 * The hardware walker: a TLB miss fills from a present PTE. A cached entry
 * is never silently refreshed from a changed PTE (that would hide stale
 * entries); only a doomed entry may be replaced, because the hardware may
 * have applied that TLBI early and refilled after it.
 */
proctype Walker()
{
	byte c, p;

end:
	do
	:: atomic {
		select(c : 0 .. NTLB - 1);
		select(p : 0 .. NPAGE - 1);
		if
		:: pte[p] != NONE && (tlb[c].perm[p] == NONE || tlb[c].doom[p] != 0) ->
			tlb[c].perm[p] = pte[p];
			tlb[c].doom[p] = 0
		:: else -> skip
		fi;
		c = 0;
		p = 0
	}
	od
}

init
{
	byte h = 0, c, p;

	atomic {
		/* every page mapped writable and cached writable everywhere */
		p = 0;
		do
		:: p < NPAGE ->
			pte[p] = RW;
			c = 0;
			do
			:: c < NTLB -> tlb[c].perm[p] = RW; c++
			:: else -> break
			od;
			p++
		:: else -> break
		od;
		c = 0; p = 0;
		/* quiescent history of space 0, with the variant's bump */
		do
		:: h < HISTORY ->
			h++;
#if defined(MUT_NO_RESET)
			word[0] = word[0] + 1
#elif defined(MUT_NO_BUMP)
			skip
#else
			if
			:: PENDING(word[0]) > GEN_LARGE -> word[0] = 1
			:: else -> word[0] = word[0] + 1
			fi
#endif
		:: h < HISTORY ->
			h++;
			word[0] = PENDING(word[0]) | (PENDING(word[0]) << GEN_SHIFT)
		:: break
		od;
		h = 0;
		run Walker();
		run Reclaimer();
		run Changer();
		run Zapper()
	}
}
