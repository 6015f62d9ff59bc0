#!/usr/bin/python3
"""Seed corpora of the Jaeger Thrift fuzz targets, written by the Apache Thrift library
(Debian python3-thrift) from code generated out of the IDL jaeger-client ships:

  thrift -r --gen py -out GEN tests/interop/node_modules/jaeger-client/dist/src/jaeger-idl/thrift/agent.thrift
  /usr/bin/python3 tests/fuzz/jaeger_thrift_compact/gen_corpus.py GEN

writes tests/fuzz/jaeger_thrift_compact/corpus/*.bin (emitBatch, compact) and
tests/fuzz/jaeger_thrift_binary/corpus/*.bin (emitBatch and bare Batch, binary)."""
import os
import sys

sys.path.insert(0, sys.argv[1])
from thrift.protocol import TBinaryProtocol, TCompactProtocol  # noqa: E402
from thrift.transport import TTransport  # noqa: E402
from agent import Agent  # noqa: E402
from jaeger.ttypes import Batch, Log, Process, Span, SpanRef, SpanRefType, Tag, TagType  # noqa: E402

here = os.path.dirname(os.path.abspath(__file__))


def tags():
    return [Tag(key="s", vType=TagType.STRING, vStr="v"),
            Tag(key="d", vType=TagType.DOUBLE, vDouble=0.25),
            Tag(key="b", vType=TagType.BOOL, vBool=True),
            Tag(key="l", vType=TagType.LONG, vLong=-7),
            Tag(key="x", vType=TagType.BINARY, vBinary=b"\x00\xff"),
            Tag(key="span.kind", vType=TagType.STRING, vStr="client"),
            Tag(key="error", vType=TagType.BOOL, vBool=True)]


def span(i, **kw):
    base = dict(traceIdLow=0x1000 + i, traceIdHigh=kw.pop("high", 0), spanId=0x2000 + i,
                parentSpanId=kw.pop("parent", 0), operationName="op%d" % i, flags=1,
                startTime=1700000000000000 + i, duration=1000)
    base.update(kw)
    return Span(**base)


batches = {
    "minimal": Batch(process=Process(serviceName="svc"), spans=[span(1)]),
    "empty": Batch(process=Process(serviceName="svc"), spans=[]),
    "rich": Batch(process=Process(serviceName="svc", tags=tags()), spans=[
        span(1, high=0x77, parent=0x99, flags=3, tags=tags(),
             references=[SpanRef(refType=SpanRefType.FOLLOWS_FROM, traceIdLow=5, traceIdHigh=6, spanId=7),
                         SpanRef(refType=SpanRefType.CHILD_OF, traceIdLow=0x1001, traceIdHigh=0x77, spanId=8)],
             logs=[Log(timestamp=1700000000000500, fields=[Tag(key="event", vType=TagType.STRING, vStr="e")] + tags())]),
        span(2, tags=[Tag(key="otel.status_code", vType=TagType.STRING, vStr="OK")])]),
    "many": Batch(process=Process(serviceName="svc"), spans=[span(i) for i in range(40)]),
}


def encode(proto, obj=None, batch=None):
    t = TTransport.TMemoryBuffer()
    p = proto(t)
    if batch is not None:
        Agent.Client(p).send_emitBatch(batch)
    else:
        obj.write(p)
    return t.getvalue()


for name, b in batches.items():
    for proto, folder in ((TCompactProtocol.TCompactProtocol, "jaeger_thrift_compact"),
                          (TBinaryProtocol.TBinaryProtocol, "jaeger_thrift_binary")):
        out = os.path.join(here, "..", folder, "corpus")
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, "emit_%s.bin" % name), "wb") as f:
            f.write(encode(proto, batch=b))
        if folder == "jaeger_thrift_binary":
            with open(os.path.join(out, "batch_%s.bin" % name), "wb") as f:
                f.write(encode(proto, obj=b))
