-- A typed column declared after its table was created. Nothing is ever dropped or retyped.
ALTER TABLE {table} ADD COLUMN {column} {type}
