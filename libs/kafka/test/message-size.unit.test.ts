import { groupsWithin } from '../src/message-size';

describe('groupsWithin', () => {
  it('cuts items in order into groups of at most the limit; an item over the limit gets a group of its own', () => {
    expect(groupsWithin([3, 3, 3, 9, 1, 1, 5], (n) => n, 6)).toEqual([[3, 3], [3], [9], [1, 1], [5]]);
    expect(groupsWithin([], (n: number) => n, 6)).toEqual([]);
    expect(groupsWithin([6, 6], (n) => n, 6)).toEqual([[6], [6]]);
  });
});
