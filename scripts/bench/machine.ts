/** A description of the machine a benchmark ran on, for the results file. */
import os from 'node:os';

export interface MachineInfo {
  cpu: string;
  cores: number;
  memory: string;
  node: string;
  os: string;
  date: string;
  /** 1-minute load average when the benchmark started (other work on a shared machine shows here). */
  loadAverage: number;
}

/** CPU model, logical cores, memory, node version, OS and the date (UTC). */
export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() || 'unknown',
    cores: cpus.length,
    memory: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    node: process.version,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    loadAverage: os.loadavg()[0],
  };
}

/** One markdown line naming the machine. */
export function describeMachine(m: MachineInfo): string {
  return `${m.cpu}, ${m.cores} cores, ${m.memory} RAM, Node ${m.node}, ${m.os}; ${m.date}; load average at start ${m.loadAverage.toFixed(2)}`;
}
