namespace Kmc.Checks.Litmus;

/// <summary>
/// The Linux-kernel memory model, after tools/memory-model/linux-kernel.{bell,cat} and lock.cat
/// (herd7's axiomatic definition), reimplemented over <see cref="Rel"/>: coherence, atomicity,
/// happens-before, propagation, RCU, and the plain-access rules (plain coherence; data races
/// flagged). It follows the cat of current mainline (rmw-sequence in cumul-fence and
/// w-post-bounded; rcu-order, with rcu-fence joining fence and strong-fence for plain accesses;
/// after-unlock-lock over po-unlock-lock-po; wr-race less rw-xbstar^-1). Encodings that differ
/// but order the same: locks by value (spin_lock an acquire read of 0 paired with a write of 1,
/// spin_unlock a release write of 0, so lock.cat's derived rf and co fall out of ordinary
/// reads-from and coherence); a successful fully ordered RMW between two smp_mb() fences, which
/// is what the cat's Mb-tagged read and write give; SRCU lock/unlock as fences that carry a
/// cookie, where the cat makes them a load and a store of the srcu_struct.
/// </summary>
public sealed class LkmmModel : ILitmusModel
{
    public string Name => "lkmm";

    /// <summary>The part of happens-before that needs no coherence order (ppo without overwrite, and rfe) must be acyclic.</summary>
    public bool MayAllowRf(CandidateExecution x)
    {
        var st = x.ModelCache as Static ?? (Static)(x.ModelCache = new Static(x));
        var po = x.Po;
        var rf = x.Rf;
        var rfi = rf & x.Int;
        var carry = (x.Data * rfi).Star();
        var addr = carry * x.Addr;
        var dep = addr | carry * x.Data;
        var ctrl = carry * x.Ctrl;
        var poUnlockLockPo = st.PoToUl * (po | rf).To(st.Lkr) * po;
        var fence = st.MbStatic | st.Gp | st.PoRel | st.AcqPo | st.Wmb | st.Rmb;
        if (st.AfterUnlockLock != null)
            fence |= AfterUnlockLockMb(poUnlockLockPo, st, po, x.M);
        var ppo = addr | (dep.To(st.Marked) * rfi) | (dep | ctrl).To(x.W) | addr.To(st.Plain) * st.Wmb | (fence & x.Int)
                  | (poUnlockLockPo & x.Int);
        return (ppo | (rf & st.Ext)).Between(st.Marked, st.Marked).Acyclic();
    }

    /// <summary>
    /// smp_mb__after_unlock_lock() makes a full barrier of the unlock+lock before it: everything
    /// before the unlock is ordered with everything after the fence. As in the current cat, the
    /// pair is po-unlock-lock-po (a lock of the same CPU, or the next holder of the same lock); a
    /// longer chain of holders is ordered by the locks' own release-acquire cumulativity.
    /// </summary>
    private static Rel AfterUnlockLockMb(Rel poUnlockLockPo, Static st, Rel po, EventSet m) =>
        (poUnlockLockPo.To(st.AfterUnlockLock!) * po).Between(m, m);

    public bool Allows(CandidateExecution x, out bool dataRace)
    {
        dataRace = false;
        if (!LitmusModels.Coherent(x, out var fr))
            return false;

        var st = x.ModelCache as Static ?? (Static)(x.ModelCache = new Static(x));
        var id = st.Id;
        var ext = st.Ext;
        var po = x.Po;
        var rf = x.Rf;
        var co = x.Co;
        var M = x.M;
        var W = x.W;
        var plain = st.Plain;
        var marked = st.Marked;
        var poOpt = st.PoOpt;
        var acqPo = st.AcqPo;
        var poRel = st.PoRel;
        var rmb = st.Rmb;
        var wmb = st.Wmb;

        var rfi = rf & x.Int;
        var rfe = rf & ext;

        // Dependencies are carried through plain stores and the loads that read them.
        var carry = (x.Data * rfi).Star();
        var addr = carry * x.Addr;
        var data = carry * x.Data;
        var ctrl = carry * x.Ctrl;

        // Since v5.16 an unlock followed by a lock on the same CPU orders like TSO, whatever the locks.
        var poUnlockLockPo = st.PoToUl * (po | rf).To(st.Lkr) * po;
        var mb = st.MbStatic;
        if (st.AfterUnlockLock != null)
            mb |= AfterUnlockLockMb(poUnlockLockPo, st, po, M);
        var gp = st.Gp;
        var strongFence = mb | gp;
        var nonrwFence = strongFence | poRel | acqPo;
        var fence = nonrwFence | wmb | rmb;

        var dep = addr | data;
        var rwdep = (dep | ctrl).To(W);
        var overwrite = co | fr;
        var toW = rwdep | (overwrite & x.Int) | addr.To(plain) * wmb;
        var toR = addr | (dep.To(marked) * rfi);
        // The after-unlock-lock barrier can span two CPUs (the unlock and the next holder's lock),
        // so only the same-CPU part of the fences is program order to preserve.
        var ppo = toR | toW | (fence & x.Int) | (poUnlockLockPo & x.Int);

        Rel ACumul(Rel r) => rfe.To(marked).Opt() * r;
        var rmwSequence = (rf * x.Rmw).Star();
        var cumulFence = (ACumul(strongFence | poRel) | wmb | poUnlockLockPo).Between(marked, marked) * rmwSequence;
        var prop = ((overwrite & ext).Opt().From(marked) * cumulFence.Star()).To(marked) * rfe.Opt().To(marked);

        var hb = (ppo | rfe | ((prop - id) & x.Int)).Between(marked, marked);
        if (!hb.Acyclic())
            return false;
        var hbStar = hb.Star();
        var pb = (prop * strongFence * hbStar).To(marked);
        if (!pb.Acyclic())
            return false;
        var pbStar = pb.Star();

        var (rcuFence, rb) = Rcu(x, st, po, poOpt, prop, hbStar, pbStar, marked);
        if (!rb.Irreflexive())
            return false;

        if (!st.HasPlain)
            return true;

        // Plain accesses: rcu-fence joins fence and strong-fence from here on (cumul-fence, prop
        // and nonrw-fence keep the old ones); plain coherence is an axiom, data races a flag.
        var rcuFencePo = po * rcuFence * poOpt;
        var fence2 = fence | rcuFencePo;
        var strong2 = strongFence | rcuFencePo;
        var xbstar = (hb | pb | rb).Star();
        var vis = cumulFence.Star() * rfe.Opt().To(marked) * ((strong2.To(marked) * xbstar) | (xbstar & x.Int));
        var wPre = (addr | fence2).Opt().From(marked);
        var rPre = (addr | nonrwFence | st.RmbRPre).Opt().From(marked);
        var wPost = fence2.Opt().To(marked) * rmwSequence;
        var rPost = (nonrwFence | st.RmbRPost).Opt().To(marked);
        var wwVis = fence2 | (strong2 * xbstar * wPre) | (wPost * vis * wPre);
        var wrVis = fence2 | (strong2 * xbstar * rPre) | (wPost * vis * rPre);
        var rwXbstar = fence2 | (rPost * xbstar * wPre);
        var preRace = st.PreRace;
        var incoherent = (preRace & rf & rwXbstar.Inverse()) | (preRace & fr & wrVis.Inverse()) | (preRace & co & wwVis.Inverse());
        if (!incoherent.IsEmpty)
            return false;

        var wwNonrace = wwVis & (st.MarkedToW | rwXbstar) & (st.WToMarked | wrVis);
        var wwRace = (preRace & co) - wwNonrace;
        var wrRace = (preRace & (co.Opt() * rf)) - wrVis - rwXbstar.Inverse();
        var rwRace = (preRace & fr) - rwXbstar;
        dataRace = !(wwRace | wrRace | rwRace).IsEmpty;
        return true;
    }

    /// <summary>
    /// rcu-fence: any chain with at least as many grace periods as read-side critical sections
    /// (SRCU ones on the same srcu_struct) linked by rcu-link; computed as a least fixpoint.
    /// </summary>
    private static (Rel RcuFence, Rel Rb) Rcu(CandidateExecution x, Static st, Rel po, Rel poOpt, Rel prop, Rel hbStar, Rel pbStar, EventSet marked)
    {
        var n = x.N;
        var rcuGp = st.RcuGp;
        var srcuGp = st.SrcuGp;
        if (!st.HasGp)
            return (new Rel(n), new Rel(n));

        var rscsi = st.Rscsi;
        var srscsi = st.Srscsi;
        var link = poOpt * hbStar * pbStar * prop * po;
        var loc = x.Loc;
        var f = new Rel(n);
        while (true)
        {
            var gpL = rcuGp * link;
            var sgpL = srcuGp * link;
            var rL = rscsi * link;
            var srL = srscsi * link;
            var fL = f * link;
            var next = rcuGp | srcuGp
                       | gpL * rscsi | (sgpL * srscsi & loc)
                       | rL * rcuGp | (srL * srcuGp & loc)
                       | gpL * fL * rscsi | (sgpL * fL * srscsi & loc)
                       | rL * fL * rcuGp | (srL * fL * srcuGp & loc)
                       | fL * f;
            if (next.SameAs(f))
                break;
            f = next;
        }

        return (f, (prop * po * f * poOpt * hbStar * pbStar).To(marked));
    }

    /// <summary>The sets and relations that do not depend on rf and co, computed once per choice of thread runs.</summary>
    private sealed class Static
    {
        public readonly EventSet All, Plain, Marked, Noreturn, R4rmb, Lkr, Lkw;
        public readonly Rel Id, Ext, PoOpt, AcqPo, PoRel, Rmb, Wmb, PoToUl, MbStatic, Gp, RmbRPre, RmbRPost, PreRace, MarkedToW, WToMarked;
        public readonly EventSet? AfterUnlockLock;
        public readonly Rel RcuGp, SrcuGp, Rscsi, Srscsi;
        public readonly bool HasPlain, HasGp;

        public Static(CandidateExecution x)
        {
            var po = x.Po;
            var M = x.M;
            var W = x.W;
            EventSet Set(Func<Ev, bool> p) => LitmusModels.Where(x, p);
            Rel FenceRel(params FenceKind[] k) => po.To(LitmusModels.Fences(x, k)) * po;

            All = LitmusModels.All(x);
            Id = Rel.Id(All);
            Ext = LitmusModels.Ext(x);
            Plain = Set(e => e.IsMem && e.E.Has(EventTags.Plain));
            HasPlain = Plain.Bits.Any(b => b != 0);
            Marked = All.Minus(Plain);
            var acquire = Set(e => e.Kind == EventKind.Read && e.E.Has(EventTags.Acquire | EventTags.LockRead));
            var release = Set(e => e.Kind == EventKind.Write && e.E.Has(EventTags.Release | EventTags.Unlock));
            Noreturn = Set(e => e.E.Has(EventTags.Noreturn));
            var rmwSet = Set(e => e.E.Has(EventTags.Rmw));
            Lkw = Set(e => e.E.Has(EventTags.LockWrite));
            Lkr = Set(e => e.E.Has(EventTags.LockRead));
            var ul = Set(e => e.E.Has(EventTags.Unlock));
            var srcuUnlock = LitmusModels.Fences(x, FenceKind.SrcuUnlock);
            R4rmb = x.R.Minus(Noreturn);
            var notNoreturn = All.Minus(Noreturn);
            PoOpt = po | Id;
            AcqPo = po.From(acquire).To(M);
            PoRel = po.From(M).To(release);
            PoToUl = po.To(ul);
            Rmb = FenceRel(FenceKind.Rmb).Between(R4rmb, R4rmb);
            Wmb = FenceRel(FenceKind.Wmb).Between(W, W);
            MbStatic = FenceRel(FenceKind.Mb).Between(M, M)
                       | (FenceRel(FenceKind.BeforeAtomic).From(M).To(rmwSet) * PoOpt).To(M)
                       | (PoOpt.From(M).To(rmwSet) * FenceRel(FenceKind.AfterAtomic)).To(M)
                       | (PoOpt.From(M).To(Lkw) * FenceRel(FenceKind.AfterSpinlock)).To(M)
                       | (PoOpt.From(M).To(srcuUnlock) * FenceRel(FenceKind.AfterSrcuReadUnlock)).To(M);
            PoToUl = PoToUl.From(M);
            var aul = LitmusModels.Fences(x, FenceKind.AfterUnlockLock);
            AfterUnlockLock = aul.Bits.Any(b => b != 0) ? aul : null;
            Gp = po.To(LitmusModels.Fences(x, FenceKind.SyncRcu, FenceKind.SyncSrcu)) * PoOpt;
            RmbRPre = FenceRel(FenceKind.Rmb).Between(R4rmb, notNoreturn);
            RmbRPost = FenceRel(FenceKind.Rmb).Between(notNoreturn, R4rmb);
            PreRace = Ext & (Rel.Cross(Plain, M) | Rel.Cross(M.Minus(x.IW), Plain));
            MarkedToW = Rel.Cross(Marked, W);
            WToMarked = Rel.Cross(W, Marked);
            RcuGp = Rel.Id(LitmusModels.Fences(x, FenceKind.SyncRcu));
            SrcuGp = Rel.Id(LitmusModels.Fences(x, FenceKind.SyncSrcu));
            HasGp = !RcuGp.IsEmpty || !SrcuGp.IsEmpty;
            Rscsi = RcuCriticalSections(x).Inverse();
            Srscsi = SrcuCriticalSections(x).Inverse();
        }
    }

    /// <summary>Matching rcu_read_lock/rcu_read_unlock pairs, innermost first, per thread.</summary>
    private static Rel RcuCriticalSections(CandidateExecution x)
    {
        var r = new Rel(x.N);
        var stacks = new Dictionary<int, Stack<int>>();
        foreach (var e in x.Events)
        {
            if (e.Kind != EventKind.Fence)
                continue;
            if (!stacks.TryGetValue(e.Thread, out var s))
                stacks[e.Thread] = s = new Stack<int>();
            if (e.E.Fence == FenceKind.RcuLock)
                s.Push(e.Id);
            else if (e.E.Fence == FenceKind.RcuUnlock && s.Count > 0)
                r.Add(s.Pop(), e.Id);
        }

        return r;
    }

    /// <summary>srcu_read_lock/srcu_read_unlock pairs: the unlock is given the lock's cookie on the same srcu_struct.</summary>
    private static Rel SrcuCriticalSections(CandidateExecution x)
    {
        var r = new Rel(x.N);
        foreach (var l in x.Events)
        {
            if (l.Kind != EventKind.Fence || l.E.Fence != FenceKind.SrcuLock)
                continue;
            foreach (var u in x.Events)
            {
                if (u.Kind == EventKind.Fence && u.E.Fence == FenceKind.SrcuUnlock && u.Loc == l.Loc && u.E.Cookie == l.E.Cookie)
                    r.Add(l.Id, u.Id);
            }
        }

        return r;
    }
}
