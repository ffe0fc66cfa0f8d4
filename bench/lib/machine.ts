import fs from 'node:fs';
import os from 'node:os';
import type { Client } from 'pg';

export interface MachineFacts {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  postgres: string;
  /** PostgreSQL settings that change write and read speed. */
  postgresSettings: Record<string, string>;
  /** 1-minute load average when the run started and ended: other work on the machine makes noise. */
  loadAverage: { start: number; end?: number };
}

function osName(): string {
  try {
    const m = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(fs.readFileSync('/etc/os-release', 'utf8'));
    if (m) return `${m[1]} (${os.type()} ${os.release()})`;
  } catch {
    // not Linux: fall through
  }
  return `${os.type()} ${os.release()}`;
}

export async function machineFacts(db: Client): Promise<MachineFacts> {
  const cpus = os.cpus();
  const version = (await db.query<{ server_version: string }>('SHOW server_version')).rows[0].server_version;
  const names = ['shared_buffers', 'synchronous_commit', 'fsync', 'wal_level', 'max_wal_size', 'work_mem', 'max_connections'];
  const settings = await db.query<{ name: string; setting: string }>(
    'SELECT name, current_setting(name) AS setting FROM pg_settings WHERE name = ANY($1::text[]) ORDER BY name',
    [names],
  );
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cores: os.availableParallelism?.() ?? cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: osName(),
    node: process.version,
    postgres: version,
    postgresSettings: Object.fromEntries(settings.rows.map((r) => [r.name, r.setting])),
    loadAverage: { start: Math.round(os.loadavg()[0] * 100) / 100 },
  };
}
