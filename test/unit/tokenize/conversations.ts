/** Realistic chat requests shared by the counting tests. */

// The OpenAI cookbook's example (num_tokens_from_messages): 129 prompt tokens for gpt-4-0613.
export const COOKBOOK = [
  { role: 'system', content: 'You are a helpful, pattern-following assistant that translates corporate jargon into plain English.' },
  { role: 'system', name: 'example_user', content: 'New synergies will help drive top-line growth.' },
  { role: 'system', name: 'example_assistant', content: 'Things working well together will increase revenue.' },
  {
    role: 'system',
    name: 'example_user',
    content: "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage.",
  },
  { role: 'system', name: 'example_assistant', content: "Let's talk later when we're less busy about how to do better." },
  { role: 'user', content: "This late pivot means we don't have time to boil the ocean for the client deliverable." },
];

export const WEATHER_TOOL = {
  type: 'function',
  function: {
    name: 'get_current_weather',
    description: 'Get the current weather in a given location.',
    parameters: {
      type: 'object',
      properties: {
        location: { type: 'string', description: 'The city and state, e.g. San Francisco, CA' },
        unit: { type: 'string', enum: ['celsius', 'fahrenheit'] },
      },
      required: ['location'],
    },
  },
};

export const PLAIN_CHAT = [
  { role: 'system', content: 'You are a concise assistant for a finance team.' },
  { role: 'user', content: 'What does accrual accounting mean?' },
  { role: 'assistant', content: 'Revenue and expenses are recorded when they are earned or incurred, not when cash moves.' },
  { role: 'user', content: 'And how is that different from cash basis? Give me one example.' },
];

/** Tools with nested objects, arrays of objects, $defs and $ref, enums, defaults, examples, bounds. */
export const NESTED_TOOLS = [
  {
    type: 'function',
    function: {
      name: 'search_flights',
      description: "Search flights between two airports. Prices are in the traveller's currency; <b>never</b> book & pay here.",
      parameters: {
        type: 'object',
        $defs: {
          Airport: { type: 'string', description: 'IATA code, e.g. GRU for São Paulo', pattern: '^[A-Z]{3}$' },
          Passenger: {
            type: 'object',
            properties: {
              age: { type: 'integer', minimum: 0, maximum: 120 },
              kind: { type: 'string', enum: ['adult', 'child', 'infant'], default: 'adult' },
            },
            required: ['age'],
          },
        },
        properties: {
          from: { $ref: '#/$defs/Airport' },
          to: { $ref: '#/$defs/Airport' },
          date: { type: 'string', format: 'date', examples: ['2025-07-14', '2025-12-24'] },
          passengers: { type: 'array', items: { $ref: '#/$defs/Passenger' }, minItems: 1, maxItems: 9 },
          cabin: { type: 'string', enum: ['economy', 'premium', 'business', 'first'], default: 'economy' },
          max_price: { type: 'number', exclusiveMinimum: 0, multipleOf: 0.01, description: 'Upper bound per passenger.' },
          flexible: { type: 'boolean', default: false },
        },
        required: ['from', 'to', 'date', 'passengers'],
      },
    },
  },
  {
    type: 'function',
    function: {
      name: 'create_invoice',
      description: 'Create a draft invoice.\nLines are billed in order; tax is applied per line.',
      parameters: {
        type: 'object',
        properties: {
          customer: {
            type: 'object',
            properties: {
              name: { type: 'string' },
              vat_id: { type: ['string', 'null'], description: 'EU VAT number, if any' },
              address: {
                type: 'object',
                properties: {
                  street: { type: 'string' },
                  city: { type: 'string' },
                  country: { type: 'string', minLength: 2, maxLength: 2 },
                },
              },
            },
            required: ['name'],
          },
          lines: {
            type: 'array',
            description: 'One entry per billed item.',
            items: {
              type: 'object',
              properties: {
                sku: { type: 'string' },
                quantity: { type: 'integer', minimum: 1, default: 1 },
                unit_price: { type: 'number', examples: [9.99, 120.5] },
                tax_rate: { type: 'number', enum: [0, 0.07, 0.19, 0.2] },
              },
              required: ['sku', 'unit_price'],
            },
          },
          due_in_days: { type: 'integer', default: 30 },
        },
        required: ['customer', 'lines'],
      },
    },
  },
  {
    type: 'function',
    function: {
      name: 'get_exchange_rate',
      description: 'Latest rate between two ISO 4217 currencies.',
      parameters: { type: 'object', properties: { base: { type: 'string' }, quote: { type: 'string' } }, required: ['base', 'quote'] },
    },
  },
];

export const DOCUMENTS = [
  {
    title: 'Travel policy 2025',
    text: 'Economy class for flights under six hours. Premium economy is allowed above six hours with a manager’s approval. Receipts are required for every expense over €25.',
  },
  {
    title: 'Per diem rates',
    text: 'Germany: €28 a day (€14 for partial days). France: €32. United States: $59, or $74 in high-cost cities such as New York & San Francisco.',
  },
  {
    title: 'FAQ',
    text: 'Q: Can I book through a personal account?\nA: Only if the corporate portal has no fare within 10% of it; attach both quotes.',
  },
];

export const TOOL_ROUND_TRIP = [
  { role: 'user', content: 'Find me a flight from Berlin to São Paulo on 14 July for two adults, and convert the price to USD.' },
  {
    role: 'assistant',
    content: null,
    tool_calls: [
      {
        id: 'call_8f2k1',
        type: 'function',
        function: {
          name: 'search_flights',
          arguments:
            '{"from":"BER","to":"GRU","date":"2025-07-14","passengers":[{"age":34},{"age":36}],"cabin":"economy","max_price":1500.0}',
        },
      },
      { id: 'call_8f2k2', type: 'function', function: { name: 'get_exchange_rate', arguments: '{"base": "EUR", "quote": "USD"}' } },
    ],
  },
  {
    role: 'tool',
    tool_call_id: 'call_8f2k1',
    content: '[{"flight":"LH 506","departs":"2025-07-14T21:50","price":1243.7,"currency":"EUR"}]',
  },
  { role: 'tool', tool_call_id: 'call_8f2k2', content: '{"rate": 1.0842, "as_of": "2025-07-01"}' },
  { role: 'assistant', content: 'LH 506 leaves at 21:50 and costs €1,243.70 per person, about $1,348.42.' },
  { role: 'user', content: 'Book it? No wait — first tell me the per diem for Brazil.' },
];
