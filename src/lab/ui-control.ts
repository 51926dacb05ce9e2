// The running lab's side of `podwire ui`: start the web page's server
// (src/lab/ui-server.ts) when first asked, and answer with its address
// after that. The server lives as long as the lab.
import { UiServer, parseUiListen, uiUrl, type UiSource } from './ui-server.ts';

/** `podwire ui --listen ADDR:PORT [--force]`, as sent on the control socket. */
export interface UiRequest { listen?: string; force?: boolean }

export interface UiReply { url: string; /** it was already serving: the address is the one it had */ already: boolean }

export class UiControl {
  private server: UiServer | undefined;
  private starting: Promise<UiServer> | undefined;

  constructor(private readonly source: UiSource) {}

  handle(req: { cmd: string } & Record<string, unknown>): Promise<unknown> | undefined {
    if (req.cmd === 'ui') return this.serve(req as unknown as UiRequest);
    return undefined;
  }

  async serve(req: UiRequest): Promise<UiReply> {
    const addr = parseUiListen(req.listen ?? '127.0.0.1:0', req.force ?? false);
    const running = this.server ?? await this.starting;
    if (running) {
      // one page per lab: asking for another address is an error, asking again for the same (or any) one is not
      const same = req.listen === undefined || addr.port === 0 || (addr.host === running.address.host && addr.port === running.address.port);
      if (!same) throw new Error(`the lab already serves its page at ${running.url} (one page per lab; asked for ${uiUrl(addr)})`);
      return { url: running.url, already: true };
    }
    this.starting = UiServer.start(addr, this.source, { force: req.force });
    try {
      this.server = await this.starting;
    } finally {
      this.starting = undefined;
    }
    return { url: this.server.url, already: false };
  }

  close(): void {
    this.server?.close();
    this.server = undefined;
  }
}
