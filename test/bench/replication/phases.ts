// Wall-clock phases of one measured operation: "backup 3.10 s, prepare
// 1.20 s, ...", and the total from the start to the last mark.
export class Phases {
  private readonly t0 = process.hrtime.bigint();
  private readonly marks: Array<[string, bigint]> = [];

  mark(name: string): void {
    this.marks.push([name, process.hrtime.bigint()]);
  }

  /** Seconds from the start to the last mark. */
  get seconds(): number {
    const last = this.marks.at(-1)?.[1] ?? this.t0;
    return Number(last - this.t0) / 1e9;
  }

  get text(): string {
    let prev = this.t0;
    return this.marks
      .map(([name, at]) => {
        const s = `${name} ${(Number(at - prev) / 1e9).toFixed(2)} s`;
        prev = at;
        return s;
      })
      .join(', ');
  }
}
