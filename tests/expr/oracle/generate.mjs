// generate.mjs - the generated half of the oracle corpus: random but seeded
// (the same cases on every run, so documented disagreements stay stable)
// expressions over the default context, built from a small FEEL grammar.
// Numbers are integers or binary-exact decimals (halves, quarters) so that
// feelin's binary doubles and Baton's decimals agree where the semantics do.

function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function generate() {
  const r = rng(20260101);
  const pick = (xs) => xs[Math.floor(r() * xs.length)];
  const int = (lo, hi) => lo + Math.floor(r() * (hi - lo + 1));
  const out = [];
  const add = (kind, expr) => out.push({ where: `generated ${kind}`, expr });

  const num = () => pick([String(int(0, 20)), String(int(-9, 9)), `${int(0, 9)}.5`, `${int(0, 9)}.25`,
    'amount', 'n', 'qty', '(n - 2)']);
  const arithOp = () => pick(['+', '-', '*']);
  function arith(d) {
    if (d <= 0 || r() < 0.3) return num();
    const e = `${arith(d - 1)} ${arithOp()} ${arith(d - 1)}`;
    return r() < 0.3 ? `(${e})` : e;
  }
  for (let i = 0; i < 150; i++) add('arithmetic', arith(int(1, 3)));
  for (let i = 0; i < 40; i++) add('division', `${int(1, 99)} / ${pick([2, 4, 8, 5, 10, 16, 3, 7])}`);

  // ordering only between values of one kind; equality also across kinds and with null
  const cmpOp = () => pick(['=', '!=', '<', '<=', '>', '>=']);
  const strOperand = () => pick(['"open"', 'status', '"a"', 's', '""']);
  const anyOperand = () => pick([num(), 'null', 'nothing', '"open"', 'status', 'flag', 'true', '"a"']);
  for (let i = 0; i < 60; i++) add('comparison', `${num()} ${cmpOp()} ${num()}`);
  for (let i = 0; i < 30; i++) add('comparison', `${strOperand()} ${cmpOp()} ${strOperand()}`);
  for (let i = 0; i < 40; i++) add('comparison', `${anyOperand()} ${pick(['=', '!='])} ${anyOperand()}`);

  const bool = () => pick(['true', 'false', 'null', 'flag', 'nothing', `amount > ${int(50, 250)}`,
    `status = "${pick(['open', 'closed'])}"`, 'n = 5', '"x"', '1']);
  function logic(d) {
    if (d <= 0 || r() < 0.3) return bool();
    const op = pick(['and', 'or']);
    const e = `${logic(d - 1)} ${op} ${logic(d - 1)}`;
    return r() < 0.4 ? `(${e})` : e;
  }
  for (let i = 0; i < 120; i++) add('logic', logic(int(1, 3)));
  for (let i = 0; i < 30; i++) add('not', `not(${logic(1)})`);

  const str = () => pick(['"abc"', '"Hello World"', 's', 'status', '""', '"a,b,c"', '"ÄÖü straße"', '"x"']);
  const strFns = [
    () => `string length(${str()})`,
    () => `upper case(${str()})`,
    () => `lower case(${str()})`,
    () => `substring(${str()}, ${pick([-1, int(1, 6)])})`,
    () => `substring(${str()}, ${int(1, 4)}, ${int(0, 4)})`,
    () => `contains(${str()}, ${pick(['"b"', '"o"', '""', '"World"'])})`,
    () => `starts with(${str()}, ${pick(['"a"', '"H"', '""'])})`,
    () => `ends with(${str()}, ${pick(['"c"', '"d"', '""'])})`,
    () => `substring before(${str()}, ${pick(['"b"', '"o"', '" "', '","'])})`,
    () => `substring after(${str()}, ${pick(['"b"', '"o"', '" "', '","'])})`,
    () => `${str()} + ${str()}`,
    () => `string(${num()})`,
  ];
  for (let i = 0; i < 120; i++) add('string', pick(strFns)());

  const list = () => pick(['[1, 2, 3]', '[3, 1, 2]', 'nums', '[]', '[5]', '[1, 2, 2, 3]', '[-1, 0.5, 2]']);
  const listFns = [
    () => `count(${list()})`, () => `sum(${list()})`, () => `min(${list()})`, () => `max(${list()})`,
    () => `mean(${list()})`, () => `reverse(${list()})`, () => `distinct values(${list()})`,
    () => `list contains(${list()}, ${int(0, 5)})`, () => `index of(${list()}, ${int(1, 3)})`,
    () => `sublist(${list()}, ${int(1, 3)})`, () => `append(${list()}, ${int(0, 9)})`,
    () => `concatenate(${list()}, ${list()})`, () => `${list()}[${int(-3, 3)}]`,
    () => `${list()}[item > ${int(0, 4)}]`, () => `${list()}[item = ${int(0, 4)}]`,
    () => `for x in ${list()} return x * ${int(1, 3)}`,
    () => `some x in ${list()} satisfies x > ${int(0, 5)}`,
    () => `every x in ${list()} satisfies x > ${int(-1, 3)}`,
    () => `${int(0, 6)} in ${list()}`, () => `product(${list()})`, () => `median(${list()})`,
    () => `sort(${list()}, function(a, b) a > b)`, () => `remove(${list()}, 1)`,
    () => `insert before(${list()}, 1, ${int(0, 9)})`, () => `union(${list()}, ${list()})`,
  ];
  for (let i = 0; i < 160; i++) add('list', pick(listFns)());

  const itemPred = () => pick([`price > ${int(0, 350)}`, `qty >= ${int(1, 5)}`, `name = "${pick(['a', 'b', 'c', 'z'])}"`,
    `item.price < ${int(0, 350)}`, `price * qty > ${int(10, 1500)}`]);
  const itemFns = [
    () => `items[${itemPred()}]`, () => `items[${itemPred()}].name`, () => `count(items[${itemPred()}])`,
    () => `sum(items[${itemPred()}].price)`, () => `items.price`, () => `items[${int(1, 3)}].name`,
    () => `some i in items satisfies i.${itemPred().replace(/^item\./, '')}`,
    () => `for i in items return i.price * i.qty`,
  ];
  for (let i = 0; i < 80; i++) add('filter', pick(itemFns)());

  const ctrl = [
    () => `if ${pick(['true', 'false', 'null', 'flag', `amount > ${int(50, 250)}`, 'n = 5'])} then ${num()} else ${num()}`,
    () => `${num()} between ${int(-5, 5)} and ${int(5, 200)}`,
    () => `${num()} in [${int(-5, 5)}..${int(5, 200)}]`,
    () => `${num()} in (${int(-5, 5)}..${int(5, 200)})`,
    () => `${num()} in (${int(0, 5)}, ${int(5, 10)}, ${int(10, 200)})`,
    () => `${num()} in < ${int(0, 200)}`,
    () => `{a: ${num()}, b: a + ${num()}}.b`,
    () => `${num()} instance of number`,
    () => `floor(${num()})`, () => `ceiling(${num()})`, () => `abs(${num()})`,
    () => `modulo(${int(-20, 20)}, ${pick([3, 4, 5, -3, -4])})`,
    () => `decimal(${int(0, 9)}.25, 1)`, () => `odd(${int(-5, 9)})`, () => `even(${int(-5, 9)})`,
  ];
  for (let i = 0; i < 120; i++) add('control', pick(ctrl)());

  const dates = ['date("2024-01-31")', 'date("2024-02-29")', 'date("2023-12-31")', 'date("2025-06-15")'];
  const durs = ['duration("P1D")', 'duration("PT48H")', 'duration("P2D")', 'duration("PT90M")', 'duration("P1M")', 'duration("P1Y")', 'duration("P14M")'];
  const temporal = [
    () => `${pick(dates)} + ${pick(['duration("P1D")', 'duration("P2D")', 'duration("P1M")', 'duration("P1Y")', 'duration("P14M")'])}`, () => `${pick(dates)} - ${pick(dates)}`,
    () => `${pick(dates)} < ${pick(dates)}`, () => `${pick(dates)}.${pick(['year', 'month', 'day', 'weekday'])}`,
    () => `day of week(${pick(dates)})`, () => `month of year(${pick(dates)})`, () => `day of year(${pick(dates)})`,
    () => `week of year(${pick(dates)})`, () => `${pick(durs)} + ${pick(durs)}`,
    () => `date and time(${pick(dates)}, time("${int(10, 23)}:${int(10, 59)}:00"))`,
    () => `time("${int(10, 23)}:${int(10, 59)}:${int(10, 59)}") + duration("PT${int(1, 90)}M")`,
  ];
  for (let i = 0; i < 100; i++) add('temporal', pick(temporal)());
  return out;
}
