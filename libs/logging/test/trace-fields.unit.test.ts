import { Writable } from 'node:stream';
import { context, propagation, ROOT_CONTEXT, trace, TraceFlags } from '@opentelemetry/api';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { createLogger } from '@omni/logging';

/** A logger writing into an array of parsed lines. */
function capture(): { lines: Record<string, unknown>[]; logger: ReturnType<typeof createLogger> } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { lines, logger: createLogger('test-svc', 'info', sink) };
}

const flush = () => new Promise((r) => setImmediate(r));

describe('log lines carry the trace', () => {
  it('has no trace fields without a trace SDK, and the line keeps its own fields', async () => {
    const { lines, logger } = capture();
    logger.info({ conversationId: 'conv_1' }, 'routed');
    logger.info('again');
    await flush();
    expect(lines[0]).toMatchObject({ service: 'test-svc', conversationId: 'conv_1', msg: 'routed' });
    expect(lines[0]).not.toHaveProperty('trace_id');
    expect(lines[1]).not.toHaveProperty('conversationId');
  });

  describe('with a registered SDK', () => {
    const provider = new NodeTracerProvider();
    beforeAll(() => provider.register());
    afterAll(async () => {
      await provider.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
    });

    it('adds trace_id and span_id of the active span, and nothing outside it', async () => {
      const { lines, logger } = capture();
      const span = trace.wrapSpanContext({ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: TraceFlags.SAMPLED });
      context.with(trace.setSpan(ROOT_CONTEXT, span), () => logger.child({ component: 'x' }).warn({ n: 1 }, 'inside'));
      logger.info('outside');
      const real = trace.getTracer('t').startSpan('op');
      await context.with(trace.setSpan(ROOT_CONTEXT, real), async () => {
        await flush();
        logger.info('after an await');
      });
      real.end();
      await flush();
      expect(lines[0]).toMatchObject({ trace_id: '0af7651916cd43dd8448eb211c80319c', span_id: 'b7ad6b7169203331', component: 'x', n: 1, msg: 'inside' });
      expect(lines[1]).not.toHaveProperty('trace_id');
      expect(lines[2]).toMatchObject({ trace_id: real.spanContext().traceId, span_id: real.spanContext().spanId });
    });
  });
});
