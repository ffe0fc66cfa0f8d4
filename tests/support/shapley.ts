/**
 * Shapley values by brute force, for checking the exact subset formula of src/modules/attribution:
 * φ_i = the average, over every order of the players, of i's marginal contribution v(before ∪ {i}) − v(before).
 */
export function permutationShapley(players: string[], v: (s: string[]) => number): Map<string, number> {
  const out = new Map(players.map((p) => [p, 0]));
  let orders = 0;
  const permute = (rest: string[], prefix: string[]) => {
    if (!rest.length) {
      orders++;
      const coalition: string[] = [];
      for (const p of prefix) {
        const before = v([...coalition].sort());
        coalition.push(p);
        out.set(p, out.get(p)! + v([...coalition].sort()) - before);
      }
      return;
    }
    rest.forEach((p, i) => permute([...rest.slice(0, i), ...rest.slice(i + 1)], [...prefix, p]));
  };
  permute(players, []);
  for (const [p, x] of out) out.set(p, x / orders);
  return out;
}
