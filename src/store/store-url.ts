// `--store etcd://HOST:PORT[,HOST:PORT]` (etcds:// for TLS): where the
// shared store of a multi-host lab is. Parsed here so every command reads it
// the same way and a typo is named before anything connects.

export interface StoreAddress {
  /** the URL as given, for messages */
  url: string;
  /** gRPC endpoints as the etcd client takes them: http(s)://host:port */
  hosts: string[];
  tls: boolean;
}

const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

export function parseStoreUrl(url: string): StoreAddress {
  const m = /^(etcds?):\/\/(.*)$/.exec(url);
  if (!m) throw new Error(`--store: "${url}" is not etcd://HOST:PORT[,HOST:PORT] (or etcds:// for TLS)`);
  const tls = m[1] === 'etcds';
  const parts = m[2].replace(/\/$/, '').split(',');
  const hosts = parts.map((p) => {
    const hp = HOST_PORT.exec(p);
    const port = hp ? Number(hp[2]) : 0;
    if (!hp || port < 1 || port > 65535) throw new Error(`--store: "${p}" in ${url} is not HOST:PORT (a port from 1 to 65535)`);
    return `${tls ? 'https' : 'http'}://${p}`;
  });
  return { url, hosts, tls };
}
