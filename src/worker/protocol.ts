/**
 * Messages between a caller (extension host, bench) and the compute worker thread.
 * Every request names a method of `ComputeMethods`; its params and result types come from there.
 */
import type { ComputeMethods } from './operations';

export type MethodName = keyof ComputeMethods;
export type ParamsOf<M extends MethodName> = Parameters<ComputeMethods[M]>[0];
export type ResultOf<M extends MethodName> = Awaited<ReturnType<ComputeMethods[M]>>;

import type { Progress } from '../core/cancellation';
export type { Progress };

export type ToWorker =
  | { kind: 'request'; id: number; method: MethodName; params: unknown }
  | { kind: 'cancel'; id: number };

export interface SerializedError {
  name: string;
  message: string;
  file?: string;
  problem?: string;
  stack?: string;
}

export type FromWorker =
  | { kind: 'ready' }
  | { kind: 'response'; id: number; result: unknown }
  | { kind: 'error'; id: number; error: SerializedError }
  | { kind: 'progress'; id: number; progress: Progress }
  | { kind: 'partial'; id: number; data: unknown };

export interface WorkerOptions {
  backend: import('../model/backend').BackendPreference;
  wasmDir: string;
  nativeModulesDir?: string;
}
