using Kmc.Checks.Framework;
using Kmc.Models;
using Kmc.Models.Scheduling;
using static Kmc.Models.Kernel;

namespace Kmc.Checks.Basics;

/// <summary>
/// The sleep/wakeup pattern of kernel/sched: a waiter sleeps until a flag is set, a waker sets
/// it and wakes the waiter. Setting the task state after testing the condition loses the wakeup.
/// </summary>
[Check]
public sealed class WakeupCheck : Check
{
    public override string Name => "wakeup";

    public override string Description => "set_current_state/schedule/wake_up_process and wait_event: no lost wakeup";

    public override IReadOnlyList<Variant> Variants { get; } =
    [
        Variant.Fixed("set_current_state() before testing the condition"),
        new("wait-event", "the same wait through a wait queue and wait_event()", Expectation.Pass),
        new("check-then-sleep", "tests the condition, then sets the state: the wakeup can fall in between", Expectation.Bug(FailureKind.Hang)),
    ];

    public override Scenario Build(Variant variant) => new(2, ex =>
    {
        var flag = new Loc<int>("done");
        var wq = new WaitQueueHead("wq");
        SimTask? waiter = null;
        if (variant.Name == "wait-event")
        {
            ex.Spawn("waiter", 0, async () => await WaitEvent(wq, async () => await ReadOnce(flag) != 0));
            ex.Spawn("waker", 1, async () =>
            {
                await WriteOnce(flag, 1);
                await WakeUp(wq);
            });
            return;
        }

        waiter = ex.Spawn("waiter", 0, async () =>
        {
            if (variant.Name == "check-then-sleep")
            {
                while (await ReadOnce(flag) == 0)
                {
                    await SetCurrentState(TaskState.Uninterruptible);
                    await Schedule();
                }
            }
            else
            {
                for (;;)
                {
                    await SetCurrentState(TaskState.Uninterruptible);
                    if (await ReadOnce(flag) != 0)
                        break;
                    await Schedule();
                }
            }

            SetCurrentStateNoBarrier(TaskState.Running);
        });
        ex.Spawn("waker", 1, async () =>
        {
            await WriteOnce(flag, 1);
            await WakeUpProcess(waiter);
        });
    });
}
