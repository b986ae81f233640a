using System.Runtime.CompilerServices;
using Kmc.Models.Scheduling;

namespace Kmc.Cli;

/// <summary>
/// The ceiling of the native explorer's step loop: the same turn-passing mechanism (each task an
/// async coroutine that parks its continuation at a scheduling point, one loop picking which
/// continuation resumes) with no model behind it: no execution, no memory, no policy object.
/// Tasks, points per task and the random pick match <see cref="Bench.Workload"/>, so the
/// explorer's throughput divided by this one is the share of the machine the kmc layer keeps.
/// </summary>
public sealed class CoroutineRing
{
    private readonly Action?[] _parked;
    private readonly int _points;

    public CoroutineRing(int tasks, int points)
    {
        _parked = new Action?[tasks];
        _points = points;
    }

    /// <summary>Runs <paramref name="executions"/> executions; returns the decisions and steps taken.</summary>
    public (long Decisions, long Steps) Run(int executions, ulong seed)
    {
        long decisions = 0, steps = 0;
        var live = new int[_parked.Length];
        for (var e = 0; e < executions; e++)
        {
            var rng = new Rng(seed + (ulong)e);
            for (var i = 0; i < _parked.Length; i++)
            {
                _ = Body(i);
            }

            while (true)
            {
                var n = 0;
                for (var i = 0; i < _parked.Length; i++)
                {
                    if (_parked[i] != null)
                        live[n++] = i;
                }

                if (n == 0)
                    break;
                var pick = live[n == 1 ? 0 : rng.Next(n)];
                if (n > 1)
                    decisions++;
                steps++;
                var resume = _parked[pick]!;
                _parked[pick] = null;
                resume();
            }
        }

        return (decisions, steps);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask Body(int id)
    {
        for (var k = 0; k < _points; k++)
            await new Turn(this, id);
    }

    private readonly struct Turn(CoroutineRing ring, int id) : ICriticalNotifyCompletion
    {
        public Turn GetAwaiter() => this;

        public bool IsCompleted => false;

        public void GetResult()
        {
        }

        public void OnCompleted(Action continuation) => ring._parked[id] = continuation;

        public void UnsafeOnCompleted(Action continuation) => ring._parked[id] = continuation;
    }
}
