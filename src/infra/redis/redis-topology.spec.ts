import { uncoveredRanges } from './redis-topology';

describe('uncoveredRanges', () => {
  it('is empty when every slot has a master', () => {
    expect(uncoveredRanges([[0, 5460, true], [5461, 10922, true], [10923, 16383, true]])).toEqual([]);
  });

  it('names the ranges without a master, single slots alone', () => {
    expect(uncoveredRanges([[0, 5460, true], [5461, 10922, false], [10923, 16382, true]])).toEqual(['5461-10922', '16383']);
  });

  it('names everything when CLUSTER SLOTS lists nothing', () => {
    expect(uncoveredRanges([])).toEqual(['0-16383']);
  });
});
