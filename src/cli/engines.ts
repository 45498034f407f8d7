/**
 * doctor and provision with the engine registry's checks and steps. machine/ sits below the
 * pipeline and knows no engines, so the registry is handed to it from here, above both.
 */
import type { Config } from '../config/schema.js';
import { doctor as machineDoctor, type DoctorOptions, type DoctorResult } from '../machine/doctor.js';
import { provision as machineProvision, type ProvisionContext, type ProvisionOptions, type ProvisionReport } from '../machine/provision/index.js';
import { engines } from '../pipeline/engines/registry.js';

export function doctor(config: Config, opts: Omit<DoctorOptions, 'engines'> = {}): Promise<DoctorResult> {
  return machineDoctor(config, { ...opts, engines: engines() });
}

export function provision(config: Config, ctx: ProvisionContext, opts: ProvisionOptions = {}): Promise<ProvisionReport> {
  return machineProvision(config, ctx, engines(), opts);
}
