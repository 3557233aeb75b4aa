// The host functions of edgehost:platform/metrics for one instance. A call
// updates a plain object in place (the snapshot WorkerMetrics sends at most
// once a second): nothing crosses the thread boundary per call.
import type { GuestSeries } from '../../sandbox/worker-metrics.ts';
import { hostError, ok, type WorkerHalf } from '../capability.ts';
import type { MetricsGrant } from './grant.ts';
import { type Labels, labelsProblem, nameProblem, type SeriesType, seriesKey, sortedLabels } from './series.ts';

const LIMIT = 'grants.metrics.maxSeries';

type Refusal = ReturnType<typeof hostError.invalid> | ReturnType<typeof hostError.limited>;

export const create: WorkerHalf<MetricsGrant>['create'] = (ctx, grant) => {
  const maxSeries = grant.maxSeries;
  const grantKey = `modules.${ctx.moduleName}.grants.metrics.maxSeries`;
  /** By the module's series key (labels in name order). */
  const series = new Map<string, GuestSeries>();
  /**
   * By the key of the call as made (labels in the caller's order): a repeated
   * call is one lookup, with no checks and no sorting. Bounded, so that calls
   * with the labels in ever new orders cannot grow it.
   */
  const byCall = new Map<string, GuestSeries>();
  /** Each name's label names, as first reported: every series of a name has the same. */
  const labelNames = new Map<string, string>();
  let warned = false;

  const find = (type: SeriesType, name: string, labels: Labels): GuestSeries | Refusal => {
    const callKey = seriesKey(name, labels);
    const known = byCall.get(callKey);
    if (known !== undefined) return known.type === type ? known : hostError.invalid(nameProblem(name, type) ?? `"${name}" is a ${known.type}`);
    const problem = nameProblem(name, type) ?? labelsProblem(labels);
    if (problem !== undefined) return hostError.invalid(problem);
    const sorted = sortedLabels(labels);
    const key = seriesKey(name, sorted);
    let s = series.get(key);
    if (s === undefined) {
      const names = sorted.map(([k]) => k).join(',');
      const first = labelNames.get(name);
      if (first !== undefined && first !== names) {
        return hostError.invalid(
          `"${name}" was first reported with the labels (${first}); every series of one name has the same label names, found (${names})`,
        );
      }
      if (series.size >= maxSeries) {
        ctx.metrics.count('limits', LIMIT);
        if (!warned) {
          warned = true;
          ctx.logger.warn(
            { code: 'EH_LIMIT', limit: LIMIT, max: maxSeries, series: name },
            `metrics: the module reports ${maxSeries} series, its limit (${grantKey}); new series are refused, the ones it has go on; raise the limit or report fewer label values`,
          );
        }
        return hostError.limited(`the module has ${maxSeries} series, its limit (${grantKey}); "${name}" with these labels would be one more`);
      }
      s = { name, type, labels: sorted, value: 0 };
      series.set(key, s);
      labelNames.set(name, names);
      ctx.metrics.guestSeries(key, s);
    }
    if (byCall.size < 4 * maxSeries) byCall.set(callKey, s);
    return s;
  };

  const record = (type: SeriesType, name: string, labels: Labels, value: number) => {
    if (maxSeries === 0) {
      return hostError.denied(ctx.denied('report metrics', `set ${grantKey} to the number of series it may report (e.g. 100)`));
    }
    if (!Number.isFinite(value) || (type === 'counter' && value < 0)) {
      return hostError.invalid(`${type} "${name}": ${value} is not ${type === 'counter' ? 'a finite number of zero or more' : 'a finite number'}`);
    }
    const s = find(type, name, labels);
    if ('tag' in s) return s;
    if (type === 'counter' ? value !== 0 : s.value !== value) {
      s.value = type === 'counter' ? s.value + value : value;
      ctx.metrics.markDirty();
    }
    return ok(undefined);
  };

  return {
    'edgehost:platform/metrics': {
      counterAdd: (name: string, labels: Labels, value: number) => record('counter', name, labels, value),
      gaugeSet: (name: string, labels: Labels, value: number) => record('gauge', name, labels, value),
    },
  };
};
