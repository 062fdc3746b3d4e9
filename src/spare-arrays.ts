/**
 * Input-sized Float32Arrays that their last reader is done with, handed to the next image or run instead of a new
 * one: fresh multi-megabyte arrays are external memory that makes V8 mark-compact every few batches. A spare's
 * contents are stale; the taker overwrites every value.
 */
export class SpareArrays {
  private readonly spare: Float32Array[] = [];

  /** `max`: how many spares are kept at most (about the arrays in flight); more are left to the collector. */
  constructor(private readonly max: number) {}

  /** A spare of `length` values, or undefined when none fits. */
  take(length: number): Float32Array | undefined {
    const i = this.spare.findIndex((a) => a.length === length);
    return i >= 0 ? this.spare.splice(i, 1)[0] : undefined;
  }

  /** Nothing reads `array` again: it may be taken. */
  give(array: Float32Array): void {
    if (this.spare.length < this.max) this.spare.push(array);
  }
}
