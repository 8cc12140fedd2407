-- Call ids drawn ahead for the write-ahead ledger (pipelines/warehouse/ledger_sink.py): a
-- record carries its id from admission on, so its answer can find it. Ids left unused
-- when a process ends are gaps, nothing more.
SELECT nextval('ops.api_calls_call_id_seq'::regclass) FROM generate_series(1, %(count)s)
