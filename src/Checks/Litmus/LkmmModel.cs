namespace Kmc.Checks.Litmus;

/// <summary>
/// The Linux-kernel memory model, after tools/memory-model/linux-kernel.{bell,cat} and lock.cat
/// (herd7's axiomatic definition), reimplemented over <see cref="Rel"/>: coherence, atomicity,
/// happens-before, propagation, RCU, and the plain-access rules (plain coherence; data races
/// flagged). Locks are modelled by value: spin_lock is an acquire read of 0 paired with a write
/// of 1, spin_unlock a release write of 0, so lock.cat's derived rf and co fall out of ordinary
/// reads-from and coherence.
/// </summary>
public sealed class LkmmModel : ILitmusModel
{
    public string Name => "lkmm";

    /// <summary>Alan Stern's 2023 proposal: dependencies (not only addr) pre-bound plain writes.</summary>
    public static bool WPreRwdep = Environment.GetEnvironmentVariable("KMC_LKMM_RWDEP") == "1";

    public bool Allows(CandidateExecution x, out bool dataRace)
    {
        dataRace = false;
        if (!LitmusModels.Coherent(x, out var fr))
            return false;

        var n = x.N;
        var all = LitmusModels.All(x);
        var id = Rel.Id(all);
        var ext = LitmusModels.Ext(x);
        var po = x.Po;
        var rf = x.Rf;
        var co = x.Co;
        var M = x.M;
        var W = x.W;
        var R = x.R;

        EventSet Set(Func<Ev, bool> p) => LitmusModels.Where(x, p);
        Rel FenceRel(params FenceKind[] k) => po.To(LitmusModels.Fences(x, k)) * po;

        var plain = Set(e => e.IsMem && e.E.Has(EventTags.Plain));
        var marked = all.Minus(plain);
        var acquire = Set(e => e.Kind == EventKind.Read && e.E.Has(EventTags.Acquire | EventTags.LockRead));
        var release = Set(e => e.Kind == EventKind.Write && e.E.Has(EventTags.Release | EventTags.Unlock));
        var noreturn = Set(e => e.E.Has(EventTags.Noreturn));
        var rmwSet = Set(e => e.E.Has(EventTags.Rmw));
        var lkw = Set(e => e.E.Has(EventTags.LockWrite));
        var lkr = Set(e => e.E.Has(EventTags.LockRead));
        var ul = Set(e => e.E.Has(EventTags.Unlock));
        var srcuUnlock = LitmusModels.Fences(x, FenceKind.SrcuUnlock);

        var rfi = rf & x.Int;
        var rfe = rf & ext;

        // Dependencies are carried through plain stores and the loads that read them.
        var carry = (x.Data * rfi).Star();
        var addr = carry * x.Addr;
        var data = carry * x.Data;
        var ctrl = carry * x.Ctrl;

        var acqPo = po.From(acquire).To(M);
        var poRel = po.From(M).To(release);
        // Since v5.16 an unlock followed by a lock on the same CPU orders like TSO, whatever the locks.
        var poUnlockLockPo = po.To(ul) * (po | rf).To(lkr) * po;

        var r4rmb = R.Minus(noreturn);
        var rmb = FenceRel(FenceKind.Rmb).Between(r4rmb, r4rmb);
        var wmb = FenceRel(FenceKind.Wmb).Between(W, W);
        var poOpt = po | id;
        var mb = FenceRel(FenceKind.Mb).Between(M, M)
                 | (FenceRel(FenceKind.BeforeAtomic).From(M).To(rmwSet) * poOpt).To(M)
                 | (poOpt.From(M).To(rmwSet) * FenceRel(FenceKind.AfterAtomic)).To(M)
                 | (poOpt.From(M).To(lkw) * FenceRel(FenceKind.AfterSpinlock)).To(M)
                 | (po.From(M).To(ul) * (co | po).To(lkw) * FenceRel(FenceKind.AfterUnlockLock)).To(M)
                 | (poOpt.From(M).To(srcuUnlock) * FenceRel(FenceKind.AfterSrcuReadUnlock)).To(M);
        var gp = po.To(LitmusModels.Fences(x, FenceKind.SyncRcu, FenceKind.SyncSrcu)) * poOpt;
        var strongFence = mb | gp;
        var nonrwFence = strongFence | poRel | acqPo;
        var fence = nonrwFence | wmb | rmb;

        var dep = addr | data;
        var rwdep = (dep | ctrl).To(W);
        var overwrite = co | fr;
        var toW = rwdep | (overwrite & x.Int) | addr.To(plain) * wmb;
        var toR = addr | (dep.To(marked) * rfi);
        var ppo = toR | toW | fence | (poUnlockLockPo & x.Int);

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

        var (rcuFence, rb) = Rcu(x, po, poOpt, prop, hbStar, pbStar, marked, id);
        if (!rb.Irreflexive())
            return false;

        if (plain.Bits.All(b => b == 0))
            return true;

        // Plain accesses (as in v6.3+): rcu-fence joins fence and strong-fence from here on;
        // plain coherence is an axiom, data races a flag.
        var rcuFencePo = po * rcuFence * poOpt;
        var fence2 = fence | rcuFencePo;
        var strong2 = strongFence | rcuFencePo;
        var xbstar = (hb | pb | rb).Star();
        var vis = cumulFence.Star() * rfe.Opt().To(marked) * ((strong2.To(marked) * xbstar) | (xbstar & x.Int));
        var notNoreturn = all.Minus(noreturn);
        var wPre = (addr | fence2 | (WPreRwdep ? rwdep : new Rel(n))).Opt().From(marked);
        var rPre = (addr | nonrwFence | FenceRel(FenceKind.Rmb).Between(r4rmb, notNoreturn)).Opt().From(marked);
        var wPost = fence2.Opt().To(marked) * rmwSequence;
        var rPost = (nonrwFence | FenceRel(FenceKind.Rmb).Between(notNoreturn, r4rmb)).Opt().To(marked);
        var wwVis = fence2 | (strong2 * xbstar * wPre) | (wPost * vis * wPre);
        var wrVis = fence2 | (strong2 * xbstar * rPre) | (wPost * vis * rPre);
        var rwXbstar = fence2 | (rPost * xbstar * wPre);
        var preRace = ext & (Rel.Cross(plain, M) | Rel.Cross(M.Minus(x.IW), plain));
        var incoherent = (preRace & rf & rwXbstar.Inverse()) | (preRace & fr & wrVis.Inverse()) | (preRace & co & wwVis.Inverse());
        if (!incoherent.IsEmpty)
            return false;

        var wwNonrace = wwVis & (Rel.Cross(marked, W) | rwXbstar) & (Rel.Cross(W, marked) | wrVis);
        var wwRace = (preRace & co) - wwNonrace;
        var wrRace = (preRace & (co.Opt() * rf)) - wrVis;
        var rwRace = (preRace & fr) - rwXbstar;
        dataRace = !(wwRace | wrRace | rwRace).IsEmpty;
        _ = n;
        return true;
    }

    /// <summary>
    /// rcu-fence: any chain with at least as many grace periods as read-side critical sections
    /// (SRCU ones on the same srcu_struct) linked by rcu-link; computed as a least fixpoint.
    /// </summary>
    private static (Rel RcuFence, Rel Rb) Rcu(CandidateExecution x, Rel po, Rel poOpt, Rel prop, Rel hbStar, Rel pbStar, EventSet marked, Rel id)
    {
        var n = x.N;
        var rcuGp = Rel.Id(LitmusModels.Fences(x, FenceKind.SyncRcu));
        var srcuGp = Rel.Id(LitmusModels.Fences(x, FenceKind.SyncSrcu));
        var hasGp = !rcuGp.IsEmpty || !srcuGp.IsEmpty;
        var rb = new Rel(n);
        var fenceRel = new Rel(n);
        if (!hasGp)
            return (fenceRel, rb);

        var rscsi = RcuCriticalSections(x).Inverse();
        var srscsi = SrcuCriticalSections(x).Inverse();
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

        rb = (prop * po * f * poOpt * hbStar * pbStar).To(marked);
        _ = id;
        return (f, rb);
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
