// Stands in for the js-tiktoken rank files that wrangler.toml's [alias] leaves out of the Worker
// bundle (see there). Loading one means the config names an encoding this bundle does not carry.
throw new Error(
  'tollgate: the config uses a tokenizer encoding left out of this Worker bundle; remove its line from [alias] in wrangler.toml and deploy again',
);
