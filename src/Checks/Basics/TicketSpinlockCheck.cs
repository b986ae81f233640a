using Kmc.Checks.Framework;
using Kmc.Models;
using Kmc.Models.Scheduling;
using Kmc.Checks.Locks;
using Kmc.Primitives.Basics;
using static Kmc.Models.Kernel;

namespace Kmc.Checks.Basics;

/// <summary>N CPUs take the ticket lock in turn: at most one holder at a time, and every lock returns.</summary>
[Check]
public sealed class TicketSpinlockCheck : Check
{
    public override string Name => "ticket-spinlock";

    public override string Description => "generic ticket spinlock, 3 CPUs x 2 rounds around plain protected data: one holder, no stale read, no hang";

    public override IReadOnlyList<Type> Primitives => [typeof(TicketSpinlock)];

    public override IReadOnlyList<Variant> Variants { get; } =
    [
        Variant.Fixed("atomic_fetch_add() takes the ticket"),
        new("nonatomic-ticket", "careless port: the ticket is read and written back non-atomically: two holders, or a ticket nobody owns (hang)", Expectation.AnyBug),
    ];

    public override Scenario Build(Variant variant) => new(3, ex =>
    {
        var v = variant.Name == "fixed" ? TicketSpinlockVariant.Fixed : TicketSpinlockVariant.NonAtomicTicket;
        var l = new TicketSpinlock("lock", v);
        // Tickets, not CPUs, order the waiters: any renaming of the CPUs is an execution too.
        ex.Symmetric(LockTorture.Spawn(ex, 3, 2, _ => l.ArchSpinLock(), _ => l.ArchSpinUnlock()), l.Val);
    });
}
