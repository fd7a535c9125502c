import { INGRESS_LEASE, INGRESS_STREAM, partitionKeys, partitionOf } from './ingress-stream';

describe('ingress partitions (SPEC section 10)', () => {
  it('picks CRC32 (IEEE) of the UTF-8 bytes mod P: the standard check value, an identity, a group', () => {
    // 0xCBF43926 is CRC-32/IEEE of "123456789"; 3421780262 % 7 = 1.
    expect(partitionOf({ identity: '123456789' }, 7)).toBe(3421780262 % 7);
    expect(partitionOf({ identity: '+905321110002' }, 4)).toBe(973440428 % 4);
    expect(partitionOf({ group: 'sales' }, 4)).toBe(1670694346 % 4);
    // Multi-byte characters count as their UTF-8 bytes, as every core computes them.
    expect(partitionOf({ group: 'satış' }, 1000)).toBe(2056467779 % 1000);
  });

  it('keeps one partition on vora:ingress, and hash-tags a partition\'s stream and lease together', () => {
    expect(partitionKeys(0, 1)).toEqual({ stream: INGRESS_STREAM, lease: INGRESS_LEASE });
    expect(partitionKeys(3, 4)).toEqual({ stream: 'vora:ingress:{3}', lease: 'vora:ingress:{3}:reader' });
  });
});
