import type { OutputSchema, RouteRequestInput } from '../domain/request';

/*
 * The demo batch: a day of traffic at QuickShip, a fictional online parcel-shipping service. The mix is what a
 * support and operations team actually sends: many short labelling and extraction jobs that a small model
 * handles, some reasoning and writing that needs more, and a few medical and legal questions that the rules
 * must send to the strong tier. Written for this project; no data set text is copied here.
 */

const TENANT = 'quickship';

/** Builds an output schema where every listed field is required unless named in `optional`. */
function fields(props: Record<string, OutputSchema['properties'][string]['type']>, optional: string[] = []): OutputSchema {
  const properties = Object.fromEntries(Object.entries(props).map(([name, type]) => [name, { type }]));
  return { type: 'object', properties, required: Object.keys(props).filter((name) => !optional.includes(name)) };
}

/** An extraction request whose fieldCount always matches its schema. */
function extraction(base: Omit<RouteRequestInput, 'taskType' | 'fieldCount' | 'outputSchema'>, schema: OutputSchema): RouteRequestInput {
  return { ...base, taskType: 'extraction', outputSchema: schema, fieldCount: Object.keys(schema.properties).length };
}

const classification: RouteRequestInput[] = [
  {
    requestId: 'demo-001',
    prompt:
      'Classify the intent of this customer message as one of: track_package, request_refund, change_address, report_damage, billing_question, other. Reply with the label only.\n\nMessage: "Hi, my parcel QS-48213377 was supposed to arrive on Tuesday and tracking has not moved since Saturday. Where is it?"',
    taskType: 'classification',
    customerTier: 'free',
    expectedOutputTokens: 5,
  },
  {
    requestId: 'demo-002',
    prompt:
      'What is the sentiment of this message: positive, neutral or negative? Answer with one word.\n\n"Third time this month the driver left my parcel in the rain next to the bins. Soaked cardboard, ruined books. Unbelievable."',
    taskType: 'classification',
    expectedOutputTokens: 3,
  },
  {
    requestId: 'demo-003',
    prompt:
      'Rate the urgency of this ticket as low, medium, high or critical, and answer with the label only.\n\n"My daughter\'s wedding dress is in parcel QS-50017742. The wedding is this Saturday and the tracking says held at depot Utrecht. Please, I need it by Friday."',
    taskType: 'classification',
    customerTier: 'premium',
    timeSensitivity: 'high',
    expectedOutputTokens: 3,
  },
  {
    requestId: 'demo-004',
    prompt:
      'Intent label (track_package, request_refund, change_address, report_damage, billing_question, other)?\n\n"We moved last week, can you send QS-47700129 to Kastanienallee 12, 10435 Berlin instead of the old flat?"',
    taskType: 'classification',
    customerTier: 'standard',
    timeSensitivity: 'high',
    expectedOutputTokens: 5,
  },
  {
    requestId: 'demo-005',
    prompt:
      'Label this message with intent, sentiment and urgency and return JSON with exactly those three keys.\n\n"Hello, I was charged twice for the same Express label (order QS-ORD-88120). Not a big deal but please refund one of them when you can."',
    taskType: 'classification',
    fieldCount: 3,
    outputSchema: fields({ intent: 'string', sentiment: 'string', urgency: 'string' }),
    customerTier: 'standard',
    expectedOutputTokens: 30,
  },
  {
    requestId: 'demo-006',
    prompt:
      'Is the following SMS a phishing attempt that impersonates QuickShip? Answer "phishing" or "legitimate".\n\n"QuickShip: your parcel is held at customs. Pay the EUR 1.99 release fee within 24h at quickship-release-fee.top or it will be returned."',
    taskType: 'classification',
    customerTier: 'free',
    timeSensitivity: 'high',
    expectedOutputTokens: 3,
  },
  {
    requestId: 'demo-007',
    prompt:
      'Classify this driver exception note as address_issue, recipient_absent, damaged, weather_delay or customs_hold. Label only.\n\nNote: "Bldg 4 has no unit 17B, concierge never heard of the name, called number twice no answer."',
    taskType: 'classification',
    customerTier: 'enterprise',
    timeSensitivity: 'low',
    expectedOutputTokens: 4,
  },
  {
    requestId: 'demo-008',
    prompt:
      'Classify the sentiment of this app-store review as positive, neutral, negative or mixed.\n\n"Love the new live map, I could see the van two streets away. But the app logged me out three times today and I had to reset my password."',
    taskType: 'classification',
    timeSensitivity: 'low',
    expectedOutputTokens: 3,
  },
  {
    requestId: 'demo-009',
    prompt:
      'Which team should handle this ticket: billing, claims, sales, api_support or delivery_ops? Answer with the team name.\n\n"Our integration gets HTTP 429 from POST /v2/labels since this morning, around 40 requests per minute. Did you change the rate limits? We ship 3,000 parcels a day through you."',
    taskType: 'classification',
    customerTier: 'enterprise',
    timeSensitivity: 'high',
    expectedOutputTokens: 4,
  },
  {
    requestId: 'demo-010',
    prompt:
      'Detect the language (ISO 639-1 code) and the intent (track_package, request_refund, change_address, report_damage, other) of this message. Answer as "<code> <intent>".\n\n"Guten Tag, mein Paket QS-49102256 kam völlig zerdrückt an, die Vase darin ist zerbrochen. Was kann ich tun?"',
    taskType: 'classification',
    customerTier: 'standard',
    expectedOutputTokens: 6,
  },
];

const extractions: RouteRequestInput[] = [
  extraction(
    {
      requestId: 'demo-011',
      prompt:
        'Extract the order number and the tracking number from this email as JSON.\n\n"Hi team, I ordered a label yesterday (order QS-ORD-77315) and the parcel got tracking number QS-48813009, but the sender says it never got picked up."',
      customerTier: 'free',
      expectedOutputTokens: 40,
    },
    fields({ orderNumber: 'string', trackingNumber: 'string' }),
  ),
  extraction(
    {
      requestId: 'demo-012',
      prompt:
        'Extract the delivery address from this message as JSON (name, street, postalCode, city, country as an ISO code).\n\n"Please deliver to Ana Ferreira, Rua das Flores 28, 3rd floor, 4050-262 Porto. It\'s in Portugal, obviously :)"',
      customerTier: 'standard',
      expectedOutputTokens: 60,
    },
    fields({ name: 'string', street: 'string', postalCode: 'string', city: 'string', country: 'string' }),
  ),
  extraction(
    {
      requestId: 'demo-013',
      prompt:
        'From this redelivery request, extract the requested date (YYYY-MM-DD) and the time window start and end (HH:MM, 24h) as JSON.\n\n"Could you try again next Thursday, 14 March 2024? I\'m home from half past two until six in the evening."',
      timeSensitivity: 'high',
      expectedOutputTokens: 40,
    },
    fields({ date: 'string', windowStart: 'string', windowEnd: 'string' }),
  ),
  extraction(
    {
      requestId: 'demo-014',
      prompt:
        'Extract the refund amount requested, its currency (ISO 4217) and the reason in a few words, as JSON.\n\n"The Express upgrade cost me £12.40 and the parcel still arrived two days late. I want that upgrade fee back."',
      customerTier: 'premium',
      expectedOutputTokens: 40,
    },
    fields({ amount: 'number', currency: 'string', reason: 'string' }),
  ),
  extraction(
    {
      requestId: 'demo-015',
      prompt: [
        'Extract the invoice fields as JSON: invoiceNumber, accountId, issueDate and dueDate (YYYY-MM-DD), subtotal, vat, total (numbers in EUR).',
        '',
        'QUICKSHIP B.V. - INVOICE INV-2024-031877',
        'Account: ACC-20931 (Bloemen & Co, Haarlem)',
        'Issued: 01/03/2024   Payment due: 31/03/2024',
        '412 x Standard parcel NL ............ EUR 2,266.00',
        '38 x Express parcel EU .............. EUR 581.40',
        'Subtotal EUR 2,847.40 | VAT 21% EUR 597.95 | Total EUR 3,445.35',
      ].join('\n'),
      customerTier: 'enterprise',
      timeSensitivity: 'low',
      expectedOutputTokens: 120,
    },
    fields({ invoiceNumber: 'string', accountId: 'string', issueDate: 'string', dueDate: 'string', subtotal: 'number', vat: 'number', total: 'number' }),
  ),
  extraction(
    {
      requestId: 'demo-016',
      prompt: [
        'Extract the damage claim details as JSON: trackingNumber, itemDescription, declaredValue (number, EUR), damageDescription, photosAttached (boolean), incidentDate (YYYY-MM-DD).',
        '',
        'Ticket #55120, opened 2024-02-19: "Parcel QS-47261190 arrived yesterday with the corner crushed. Inside was a Roland TD-07 drum module, I declared it at 449 euros when I bought the label. The screen is cracked and it won\'t power on. I attached three photos of the box and the device."',
      ].join('\n'),
      customerTier: 'premium',
      expectedOutputTokens: 120,
    },
    fields({
      trackingNumber: 'string',
      itemDescription: 'string',
      declaredValue: 'number',
      damageDescription: 'string',
      photosAttached: 'boolean',
      incidentDate: 'string',
    }),
  ),
  extraction(
    {
      requestId: 'demo-017',
      prompt:
        'Extract the pickup request as JSON: pickupDate (YYYY-MM-DD), parcelCount (integer), totalWeightKg (number), address.\n\n"Hi, can a driver collect 14 boxes from our warehouse at Industrieweg 7, 5627 BT Eindhoven on 2024-04-02? They\'re about 6.5 kg each."',
      customerTier: 'enterprise',
      expectedOutputTokens: 70,
    },
    fields({ pickupDate: 'string', parcelCount: 'integer', totalWeightKg: 'number', address: 'string' }),
  ),
  extraction(
    {
      requestId: 'demo-018',
      prompt:
        'Extract the phone number in E.164 format and the preferred contact channel (phone, email, sms) as JSON; set phone to null if none is given.\n\n"Don\'t email me, I never read it. Text me at 06 12 34 56 78 (I\'m in France) when the driver is close."',
      customerTier: 'free',
      expectedOutputTokens: 30,
    },
    fields({ phone: 'string', preferredChannel: 'string' }, ['phone']),
  ),
  extraction(
    {
      requestId: 'demo-019',
      prompt:
        'Extract the parcel dimensions in centimetres and the weight in kilograms as JSON numbers.\n\n"The box is 24 x 16 x 9 inches and weighs 11 lb on my bathroom scale."',
      timeSensitivity: 'low',
      expectedOutputTokens: 40,
    },
    fields({ lengthCm: 'number', widthCm: 'number', heightCm: 'number', weightKg: 'number' }),
  ),
  extraction(
    {
      requestId: 'demo-020',
      prompt:
        'List every QuickShip tracking number (format QS- followed by 8 digits) mentioned in this message as a JSON array under "trackingNumbers".\n\n"None of these arrived: QS-48120097, QS-48120098 and QS-4812O099 (that last one might be a typo from our system, it should be QS-48120099). Order ref QS-ORD-5521 is unrelated."',
      customerTier: 'enterprise',
      expectedOutputTokens: 50,
    },
    fields({ trackingNumbers: 'array' }),
  ),
  extraction(
    {
      requestId: 'demo-021',
      prompt: [
        'Extract the business account application as JSON: companyName, vatId, contactName, email, phone, monthlyParcels (integer), needsDailyPickup (boolean), services (array of strings).',
        '',
        '"Hello QuickShip, we are Tinta Print Studio S.L. (VAT ES-B87654321) in Valencia and would like a business account. I\'m Lucía Navarro, head of operations, lucia.navarro@tintaprint.es, +34 961 234 567. We send roughly 1,800 parcels a month, mostly posters in tubes, and we\'d need a pickup every weekday. Interested in Standard EU, Express EU and returns labels."',
      ].join('\n'),
      customerTier: 'standard',
      timeSensitivity: 'low',
      expectedOutputTokens: 160,
    },
    fields({
      companyName: 'string',
      vatId: 'string',
      contactName: 'string',
      email: 'string',
      phone: 'string',
      monthlyParcels: 'integer',
      needsDailyPickup: 'boolean',
      services: 'array',
    }),
  ),
  extraction(
    {
      requestId: 'demo-022',
      prompt:
        'Extract the customs declaration as JSON: contents (array of objects with description, quantity, valueGbp), totalValueGbp, originCountry (ISO code).\n\n"Sending from Manchester to Oslo: two wool scarves at £35 each and one hardback cookbook worth £22. Gift for my sister."',
      customerTier: 'standard',
      expectedOutputTokens: 120,
    },
    fields({ contents: 'array', totalValueGbp: 'number', originCountry: 'string' }),
  ),
];

const reasoning: RouteRequestInput[] = [
  {
    requestId: 'demo-023',
    prompt:
      'A Standard parcel was handed in at a Rotterdam drop-off point on Thursday 28 March 2024 at 16:40. The daily cut-off is 16:00, Standard delivery takes 2 business days within the Netherlands, and Friday 29 March (Good Friday) and Monday 1 April (Easter Monday) are not business days for QuickShip. On which date should the customer expect delivery? Explain step by step.',
    taskType: 'reasoning',
    customerTier: 'standard',
    expectedOutputTokens: 250,
  },
  {
    requestId: 'demo-024',
    prompt:
      'Compute the refund. Policy: for late Express deliveries we refund 50% of the shipping fee per business day late, capped at 100%; the optional insurance fee is refunded only if the parcel is lost. A customer paid EUR 18.90 for Express plus EUR 2.50 insurance, and the parcel arrived 3 business days late, undamaged. How much do we refund, and why?',
    taskType: 'reasoning',
    customerTier: 'premium',
    expectedOutputTokens: 200,
  },
  {
    requestId: 'demo-025',
    prompt:
      'A courier starts at the depot at 08:00 and has five stops. Driving times in minutes: depot-A 10, depot-B 25, A-B 15, A-C 20, B-C 10, B-D 20, C-D 15, C-E 25, D-E 10. Each stop takes 5 minutes. Stop C has a delivery window 08:30-09:00 and stop E must be visited after 09:30 (shop opens). In what order should the courier visit A-E to finish earliest while respecting the windows? Show the timeline.',
    taskType: 'reasoning',
    customerTier: 'enterprise',
    timeSensitivity: 'high',
    expectedOutputTokens: 500,
  },
  {
    requestId: 'demo-026',
    prompt:
      'A premium customer\'s parcel (contents worth EUR 40, shipping EUR 8) is lost. Option A: refund EUR 48 now. Option B: reship a replacement at our cost (EUR 8 shipping, the merchant replaces the item for free) and offer a EUR 5 voucher. Our data says 30% of premium customers who get a refund instead of a reshipment churn within six months, versus 12% after a reshipment, and a premium customer is worth about EUR 120 a year in margin. Which option should the agent offer, and what are the trade-offs?',
    taskType: 'reasoning',
    customerTier: 'premium',
    timeSensitivity: 'low',
    expectedOutputTokens: 450,
  },
  {
    requestId: 'demo-027',
    prompt:
      'We charge by the greater of actual weight and volumetric weight (L x W x H in cm / 5000). Price bands: up to 5 kg EUR 6.95, up to 10 kg EUR 9.95, up to 20 kg EUR 14.95, up to 31.5 kg EUR 21.95. A box measures 60 x 40 x 40 cm and weighs 9 kg. What does it cost, and how much would the customer save by using a 50 x 40 x 30 box instead?',
    taskType: 'reasoning',
    customerTier: 'free',
    expectedOutputTokens: 250,
  },
  {
    requestId: 'demo-028',
    prompt:
      'A webshop sends 200 parcels a month within Germany. Economy costs EUR 4.20 and arrives in 3-5 days; Express costs EUR 7.90 and arrives next day. The shop loses about 4% of Economy orders to cancellations because of slow delivery, against 1% for Express, and the average order margin is EUR 22. Compare the monthly cost of each option including lost margin and recommend one.',
    taskType: 'reasoning',
    customerTier: 'standard',
    timeSensitivity: 'low',
    expectedOutputTokens: 350,
  },
  {
    requestId: 'demo-029',
    prompt:
      'Our Antwerp hub sorts 1,200 parcels per hour per sorting line and runs two lines for 16 hours a day. Black Friday week is forecast at 61,000 parcels a day, arriving evenly over 20 hours. Can the hub keep up? If not, estimate the backlog after three days and the number of extra line-hours needed to clear it.',
    taskType: 'reasoning',
    customerTier: 'enterprise',
    timeSensitivity: 'normal',
    expectedOutputTokens: 400,
  },
  {
    requestId: 'demo-030',
    prompt:
      'Tracking for QS-48555012 says "Delivered - handed to resident" at 11:02 with a GPS scan 600 m from the customer\'s address, but the customer says nobody was home and no neighbour has it. Analyse the likely explanations, ranked by probability, and the steps an agent should take to find out which one happened.',
    taskType: 'reasoning',
    customerTier: 'standard',
    timeSensitivity: 'high',
    expectedOutputTokens: 450,
  },
  {
    requestId: 'demo-031',
    prompt:
      'A customer in Lisbon books Express EU at 17:30 local time on a Wednesday to Helsinki. The Lisbon hub\'s cut-off is 18:00 CET, Express EU delivers in 2 business days after the cut-off day, and Helsinki deliveries run until 20:00 local time. Taking the time zones into account, does the parcel make Wednesday\'s cut-off, and by when will it arrive in Helsinki local time?',
    taskType: 'reasoning',
    customerTier: 'free',
    timeSensitivity: 'normal',
    expectedOutputTokens: 300,
  },
];

const generation: RouteRequestInput[] = [
  {
    requestId: 'demo-032',
    prompt:
      'Write a short, warm reply to this customer. Apologise, explain that the parcel (QS-48213377) was delayed by a sorting fault at our Utrecht hub and is now out for delivery today, and offer a EUR 5 voucher (code SORRY5Q). Sign as "Mila, QuickShip Support".\n\nCustomer: "This is the third day of waiting. You promised Tuesday. I am done with QuickShip."',
    taskType: 'generation',
    customerTier: 'standard',
    timeSensitivity: 'high',
    expectedOutputTokens: 180,
  },
  {
    requestId: 'demo-033',
    prompt:
      'Write product copy (a headline and about 80 words) for "QuickShip Lockers": 24/7 parcel lockers in supermarkets and train stations, pick up with a QR code, free for the first 72 hours, now in 1,400 locations across the Benelux.',
    taskType: 'generation',
    customerTier: 'enterprise',
    timeSensitivity: 'low',
    expectedOutputTokens: 160,
  },
  {
    requestId: 'demo-034',
    prompt:
      'Draft an email to business customers announcing the holiday schedule: no pickups on 25 and 26 December or 1 January, last guaranteed Express pickup before Christmas is 22 December at 15:00, and Saturday pickups on 16 and 23 December at no extra charge. Keep it under 150 words.',
    taskType: 'generation',
    customerTier: 'enterprise',
    timeSensitivity: 'low',
    expectedOutputTokens: 250,
  },
  {
    requestId: 'demo-035',
    prompt:
      'Antworte dem Kunden auf Deutsch, freundlich und knapp: Die zerbrochene Vase aus Paket QS-49102256 wird erstattet, sobald er uns zwei Fotos von Karton und Inhalt über das Schadensformular schickt; die Bearbeitung dauert höchstens fünf Werktage.',
    taskType: 'generation',
    customerTier: 'standard',
    expectedOutputTokens: 150,
  },
  {
    requestId: 'demo-036',
    prompt:
      'Write a help-centre article (about 200 words, with a short bullet list) on how to package fragile items like glassware and ceramics for shipping with QuickShip, including the 6 cm cushioning rule and the "fragile" sticker, which we recommend but which does not replace good packing.',
    taskType: 'generation',
    customerTier: 'free',
    timeSensitivity: 'low',
    expectedOutputTokens: 350,
  },
  {
    requestId: 'demo-037',
    prompt:
      'Write three variants of a push notification (max 90 characters each) telling the recipient that their parcel will arrive today between 14:00 and 16:00 and that they can redirect it to a locker in the app.',
    taskType: 'generation',
    customerTier: 'standard',
    expectedOutputTokens: 100,
  },
  {
    requestId: 'demo-038',
    prompt:
      'Reply to an enterprise customer who asks for a higher API rate limit. Explain that the default is 30 label requests per minute, that we can raise it to 120 per minute for accounts above 2,000 parcels a day after a short review, that batch label creation (POST /v2/labels/batch, up to 100 labels per call) usually removes the need, and that their account manager will confirm within one business day.',
    taskType: 'generation',
    customerTier: 'enterprise',
    timeSensitivity: 'high',
    expectedOutputTokens: 250,
  },
];

const summarization: RouteRequestInput[] = [
  {
    requestId: 'demo-039',
    prompt: [
      'Summarise this ticket thread in three sentences for the next agent: what happened, what was promised, what is still open.',
      '',
      '[Mon 09:14 customer] Parcel QS-47990312 shows "delivered" but I never got it. I was home all day.',
      '[Mon 10:02 agent Joris] Sorry to hear that! I have opened an investigation with the driver. We usually hear back within 48 hours.',
      '[Wed 16:45 customer] It has been 48 hours. Nothing.',
      '[Wed 17:10 agent Priya] The driver says he left it with a neighbour at number 14. Could you check there?',
      '[Wed 19:30 customer] Number 14 is an empty shop that has been closed for a year.',
      '[Thu 08:55 agent Priya] Apologies. I have escalated to the depot manager and requested the GPS log of the delivery scan. You will hear from us by Friday noon, and if we cannot locate the parcel we will refund the full value (EUR 89.00).',
    ].join('\n'),
    taskType: 'summarization',
    customerTier: 'premium',
    timeSensitivity: 'high',
    expectedOutputTokens: 120,
  },
  {
    requestId: 'demo-040',
    prompt:
      'Summarise this driver incident report in two sentences for the weekly safety log.\n\n"At 10:40 on the A12 exit to Zoetermeer the van (NL-VX-482) was rear-ended at low speed while stopped at a red light. No injuries. Rear door dented but still closes; 3 of 112 parcels in the rear cage slid and one box is torn (QS-48300551, contents look intact). Police not called, details exchanged with the other driver. Continued the route with a 35 minute delay."',
    taskType: 'summarization',
    customerTier: 'enterprise',
    timeSensitivity: 'low',
    expectedOutputTokens: 80,
  },
  {
    requestId: 'demo-041',
    prompt: [
      'Summarise this week\'s customer feedback into at most five bullet points, grouped by theme, with rough counts.',
      '',
      '- "Driver was super friendly and called ahead." (x14 similar)',
      '- "App logs me out all the time." (x9 similar)',
      '- "Locker at Den Haag Centraal was full, had to go to another station." (x6 similar)',
      '- "Parcel left outside in the rain." (x5 similar)',
      '- "Why does Express cost more on Saturdays?" (x3 similar)',
      '- "Live map is great." (x11 similar)',
      '- "Refund took 3 weeks." (x4 similar)',
    ].join('\n'),
    taskType: 'summarization',
    customerTier: 'standard',
    timeSensitivity: 'low',
    expectedOutputTokens: 150,
  },
  {
    requestId: 'demo-042',
    prompt:
      'Write a handoff summary of this damage claim for the claims team (max 60 words): customer Jan de Vries, parcel QS-47261190, Roland drum module declared at EUR 449, screen cracked and no power, three photos attached, claim opened 19 Feb, customer wants a refund rather than a repair, packaging was the original manufacturer box without extra padding, which our terms require for electronics over EUR 250.',
    taskType: 'summarization',
    customerTier: 'premium',
    expectedOutputTokens: 90,
  },
  {
    requestId: 'demo-043',
    prompt: [
      'Give a TL;DR (two or three sentences) of this policy change for the support team.',
      '',
      'Effective 1 May, QuickShip will no longer accept parcels with loose lithium batteries (UN3480) in any service. Batteries installed in equipment (UN3481) remain accepted on road services only; air-routed Express services to Scandinavia and the UK require the sender to declare them at label creation, and undeclared parcels found at screening will be returned to the sender at the sender\'s cost. Customers who shipped batteries through the old "electronics" checkbox must migrate to the new declaration field in the API (battery_type) by 15 May.',
    ].join('\n'),
    taskType: 'summarization',
    customerTier: 'enterprise',
    timeSensitivity: 'normal',
    expectedOutputTokens: 100,
  },
];

const conversations: RouteRequestInput[] = [
  {
    requestId: 'demo-044',
    history: [
      { role: 'system', content: 'You are QuickShip\'s support assistant. Be concise and never promise delivery dates the tracking does not support.' },
      { role: 'user', content: 'Hi, can I still redirect parcel QS-48702215? I won\'t be home tomorrow.' },
      { role: 'assistant', content: 'Yes, it is still at the Eindhoven depot, so it can be redirected. Would you like a neighbour, a locker, or a different address?' },
      { role: 'user', content: 'A locker please, near Eindhoven Strijp-S.' },
      { role: 'assistant', content: 'There are two: Strijp-S Albert Heijn (Torenallee) and Philips Museum (Emmasingel). Which one?' },
    ],
    prompt: 'Torenallee. And how long can it stay there? I\'m away until Saturday evening.',
    taskType: 'generation',
    customerTier: 'standard',
    timeSensitivity: 'high',
    expectedOutputTokens: 120,
  },
  {
    requestId: 'demo-045',
    history: [
      { role: 'user', content: 'I have three parcels going to the same customer in Lyon: 4 kg, 7 kg and 2.5 kg, all about 40 x 30 x 20 cm.' },
      { role: 'assistant', content: 'Got it. Standard EU to France costs EUR 11.50 up to 5 kg, EUR 15.90 up to 10 kg and EUR 21.40 up to 20 kg per parcel.' },
      { role: 'user', content: 'Would it be cheaper to put them all in one big box of 60 x 40 x 40?' },
    ],
    prompt:
      'Remember volumetric weight is L x W x H / 5000 and we charge the greater of actual and volumetric weight. Compare the two options and tell me which one is cheaper and by how much.',
    taskType: 'reasoning',
    customerTier: 'free',
    expectedOutputTokens: 300,
  },
  extraction(
    {
      requestId: 'demo-046',
      history: [
        { role: 'user', content: 'Deliver parcel QS-48911370 to my office please: Keizersgracht 220, Amsterdam.' },
        { role: 'assistant', content: 'Sure. Could you confirm the postcode and a company name for the reception?' },
        { role: 'user', content: 'Postcode 1016 DZ, company is Nordlicht Design. Oh wait, we moved floors, it is now the 4th floor, not 2nd.' },
      ],
      prompt: 'Extract the final agreed delivery address as JSON: company, street, floor (integer), postalCode, city.',
      customerTier: 'premium',
      expectedOutputTokens: 60,
    },
    fields({ company: 'string', street: 'string', floor: 'integer', postalCode: 'string', city: 'string' }),
  ),
];

const medical: RouteRequestInput[] = [
  {
    requestId: 'demo-047',
    prompt:
      'A customer wants to send two unopened insulin pens (they must stay between 2 and 8 °C) from Amsterdam to her son studying in Madrid. Express EU takes 2 days, and the forecast in Madrid is 31 °C. Can she safely ship them with QuickShip, what packaging would keep them in range, and what should she do if the parcel is delayed? Be careful: this concerns medication a person depends on.',
    taskType: 'reasoning',
    domain: 'medical',
    customerTier: 'standard',
    timeSensitivity: 'high',
    expectedOutputTokens: 450,
  },
  {
    requestId: 'demo-048',
    prompt:
      'One of our couriers cut the palm of his hand on a box cutter while opening a damaged parcel in the van. It is bleeding steadily, the cut is about 3 cm long and looks deep. He is alone on the route near Breda. What first aid should he do right now, and when should he call emergency services?',
    taskType: 'qa',
    domain: 'medical',
    customerTier: 'enterprise',
    timeSensitivity: 'high',
    expectedOutputTokens: 300,
  },
  {
    requestId: 'demo-049',
    prompt:
      'Does this shipment need to go as "Biological Substance, Category B" (UN3373) packaging? Answer "UN3373" or "not_regulated" and nothing else.\n\nContents as declared by a GP practice: "6 blood samples in sealed tubes for routine cholesterol testing, sent to a diagnostic lab."',
    taskType: 'classification',
    domain: 'medical',
    customerTier: 'enterprise',
    timeSensitivity: 'normal',
    expectedOutputTokens: 5,
  },
];

const legal: RouteRequestInput[] = [
  {
    requestId: 'demo-050',
    prompt:
      'A UK seller sent a EUR 240 parcel to a customer in Germany with DAP (delivered at place) terms. It is held at German customs for EUR 45.60 import VAT plus our EUR 12 clearance fee, and the recipient refuses to pay, saying the seller promised "no extra fees". Who is legally liable for the duties under DAP, can QuickShip charge the sender if the recipient refuses, and what happens to the parcel if nobody pays?',
    taskType: 'reasoning',
    domain: 'legal',
    customerTier: 'premium',
    timeSensitivity: 'normal',
    expectedOutputTokens: 500,
  },
  {
    requestId: 'demo-051',
    prompt:
      'Draft a reply to a customer who writes: "Under GDPR I want a copy of all the data QuickShip has about me, and then I want you to delete everything." Explain how we handle the access request within one month, that we will delete her account and tracking history, and that German tax law obliges us to keep invoices for ten years, so those are restricted rather than deleted. Ask her to confirm her identity through the secure form.',
    taskType: 'generation',
    domain: 'legal',
    customerTier: 'standard',
    timeSensitivity: 'low',
    expectedOutputTokens: 350,
  },
  extraction(
    {
      requestId: 'demo-052',
      prompt:
        'Extract the data-protection request as JSON: requestTypes (array, any of access, erasure, rectification, portability, objection), customerEmail, accountId, identityVerified (boolean).\n\n"Dear QuickShip, I (account QS-C-118204, registered as m.kowalski@post.pl) ask you to correct my misspelled surname and to send me my data in a machine-readable format. My ID is attached."',
      domain: 'legal',
      customerTier: 'free',
      timeSensitivity: 'low',
      expectedOutputTokens: 80,
    },
    fields({ requestTypes: 'array', customerEmail: 'string', accountId: 'string', identityVerified: 'boolean' }),
  ),
];

/** The batch the README's main job routes: 52 requests in id order, all for the "quickship" tenant. */
export const DEMO_REQUESTS: RouteRequestInput[] = [
  ...classification,
  ...extractions,
  ...reasoning,
  ...generation,
  ...summarization,
  ...conversations,
  ...medical,
  ...legal,
].map((request) => ({ ...request, tenant: TENANT }));
