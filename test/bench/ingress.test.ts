// bench/ingress.ts: reading wrk's --latency output, and the bench lab's plan.
import { describe, it, expect } from 'vitest';
import { parseWrk, ingressBenchPlan, INGRESS_BENCH_LB_IP } from '../../bench/ingress.ts';

// the shape wrk 4.1 (Debian's package) prints with --latency; figures from a bench ingress --quick run
const WRK_OUT = `Running 2s test @ http://172.30.255.210/
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     4.10ms   12.02ms 120.31ms   96.40%
    Req/Sec     7.01k   600.12     7.90k    75.00%
  Latency Distribution
     50%    1.55ms
     75%    2.10ms
     90%    3.48ms
     99%   78.48ms
  13904 requests in 2.00s, 8.62MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:   6952.00
Transfer/sec:      4.31MB
`;

describe('bench ingress', () => {
  it("reads requests/s, p50 and p99 (us, ms, s) and counts non-2xx and socket errors", () => {
    expect(parseWrk(WRK_OUT)).toEqual({ requestsPerSec: 6952, p50Ms: 1.55, p99Ms: 78.48, errors: 7 });
    const us = parseWrk(WRK_OUT.replace('1.55ms', '650.00us').replace('78.48ms', '1.20s'));
    expect(us.p50Ms).toBeCloseTo(0.65, 6);
    expect(us.p99Ms).toBe(1200);
    expect(() => parseWrk('unable to connect to 10.0.0.1:80 Connection refused')).toThrow(/wrk printed no Requests\/sec/);
  });

  it('plans one node: client, web behind a Service, the controller at the pool\'s first address, an external host, one Ingress', () => {
    const p = ingressBenchPlan();
    expect(p.nodes[0].pods.map((x) => x.name)).toEqual(['bi-client', 'bi-web']);
    expect(p.services.find((s) => s.name === 'ingress-nginx-controller')?.loadBalancer?.ip).toBe(INGRESS_BENCH_LB_IP);
    expect(p.external?.map((h) => [h.netns, h.ip])).toEqual([['pw-bi-laptop', '172.30.254.2']]);
    expect(p.ingressObjects?.ingresses.map((l) => l.value.name)).toEqual(['bench']);
  });
});
