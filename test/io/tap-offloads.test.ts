// The underlay TAP's offload probe (src/io/tap.ts): UDP-tunnel GSO asked for
// by trying it (TUNSETVNETHDRSZ 24, TUNSETOFFLOAD with TUN_F_UDP_TUNNEL_GSO),
// what the kernel then reports for the device (ethtool -k, the oracle: the
// tun driver turns the offload bits into the device's features), and the
// fallbacks: turned off by PODWIRE_UNDERLAY_OFFLOADS=off, or no offloads.
// Root: creates TAPs pw-tofl0..2 in the root namespace, closed (and so
// removed) at the end of each test.
import { describe, it, expect, afterEach } from 'vitest';
import { release } from 'node:os';
import { Tap, TUN_F_UDP_TUNNEL_GSO, VNET_HDR_LEN, VNET_TNL_HDR_LEN } from '../../src/io/tap.ts';
import { run } from '../../src/io/netns.ts';

const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn('tap-offloads.test: skipped — needs root (creates TAP devices)');

/** UDP-tunnel GSO on a TAP came with Linux 6.18 (the brief's kernel; older ones refuse the bits). */
const [major, minor] = release().split('.').map(Number);
const kernelHasIt = major > 6 || (major === 6 && minor >= 18);

async function features(dev: string): Promise<Record<string, string>> {
  const { stdout } = await run('ethtool', ['-k', dev]);
  return Object.fromEntries(stdout.split('\n').map((l) => l.trim().match(/^([\w-]+): (\w+)/)).filter((m) => m !== null).map((m) => [m![1], m![2]]));
}

describe.skipIf(!isRoot)('the underlay TAP asks for UDP-tunnel GSO (root)', () => {
  let tap: Tap | undefined;
  const saved = process.env.PODWIRE_UNDERLAY_OFFLOADS;
  afterEach(() => {
    tap?.close();
    tap = undefined;
    if (saved === undefined) delete process.env.PODWIRE_UNDERLAY_OFFLOADS;
    else process.env.PODWIRE_UNDERLAY_OFFLOADS = saved;
  });

  it.runIf(kernelHasIt)(`this kernel (${release()}) takes it: 24-byte header, and the device then does UDP-tunnel segmentation`, async () => {
    delete process.env.PODWIRE_UNDERLAY_OFFLOADS;
    tap = Tap.open('pw-tofl0', { offloads: true, udpTunnel: true });
    expect(tap.offloads).toMatchObject({ udpTunnelGso: true, vnetHdrLen: VNET_TNL_HDR_LEN });
    expect(tap.offloads.flags & TUN_F_UDP_TUNNEL_GSO).toBe(TUN_F_UDP_TUNNEL_GSO);
    const f = await features('pw-tofl0');
    expect(f['tx-udp_tnl-segmentation'], JSON.stringify(f)).toBe('on');
    expect(f['tcp-segmentation-offload']).toBe('on');
  });

  it('PODWIRE_UNDERLAY_OFFLOADS=off: plain TSO, the 10-byte header, and status is told why', async () => {
    process.env.PODWIRE_UNDERLAY_OFFLOADS = 'off';
    tap = Tap.open('pw-tofl1', { offloads: true, udpTunnel: true });
    expect(tap.offloads).toMatchObject({ udpTunnelGso: false, vnetHdrLen: VNET_HDR_LEN, refused: 'turned off (PODWIRE_UNDERLAY_OFFLOADS=off)' });
    const f = await features('pw-tofl1');
    expect(f['tx-udp_tnl-segmentation']).not.toBe('on');
    expect(f['tcp-segmentation-offload']).toBe('on');
  });

  it('offloads: false: nothing asked for, and the reason says so', () => {
    tap = Tap.open('pw-tofl2', { offloads: false, udpTunnel: true });
    expect(tap.offloads).toMatchObject({ udpTunnelGso: false, flags: 0, vnetHdrLen: VNET_HDR_LEN, refused: 'offloads are off in the topology' });
  });
});
