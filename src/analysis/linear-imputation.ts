/**
 * ROAD's noisy linear imputation (Rong et al. 2022, arXiv:2202.00449; pytorch-grad-cam NoisyLinearImputer): every
 * removed pixel becomes the weighted mean of its in-image 8 neighbours (1/6 direct, 1/12 diagonal), removed
 * neighbours included, so the removed pixels solve one sparse linear system per channel:
 *
 *   d_i·x_i − Σ_{removed j ~ i} w_ij·x_j = Σ_{kept j ~ i} w_ij·x_j,   d_i = Σ of the in-image neighbour weights.
 *
 * The matrix is a 9-point, Poisson-like, symmetric M-matrix, positive definite when some pixel is kept, and the
 * same for every channel. PGC solves it with scipy's spsolve (direct). Here: conjugate gradients preconditioned by
 * one geometric multigrid V-cycle (bilinear interpolation, Galerkin coarse operators P^T·A·P, one forward
 * Gauss-Seidel sweep before and one backward after, a dense Cholesky solve on the coarsest grid): a symmetric
 * positive definite preconditioner whose iteration count hardly grows with the image (7 to 9 iterations on the
 * demo's 96x128 frames and on 224x224 maps, at every ROAD share). The hierarchy is built once per mask and serves
 * every channel. The stopping rule is the one the unpreconditioned CG before it used, ‖b − A·x‖ ≤ 1e-10·‖b‖ per
 * channel, and the imputed values agree with a dense direct solve to float32 rounding (test/analysis). Measured with
 * bench/road.ts: 18 imputations of a 224x224x3 image in about 1.6 s of CPU instead of 45 s.
 */
import { strides, type TensorShape } from './occlusion.ts';

/** Stop at ‖r‖ ≤ RELATIVE_RESIDUAL·‖b‖ per channel. */
const RELATIVE_RESIDUAL = 1e-10;
/** Coarsen until a grid has at most this many unknowns; that grid is solved directly. */
const COARSEST_UNKNOWNS = 64;

/**
 * One grid of the hierarchy, padded by one inactive node on every side so that every node has 9 stencil slots in
 * bounds. Node (y, x) is at (y + 1)·stride + x + 1; its stencil coefficient towards (y + dy, x + dx) at
 * 9·node + 3·(dy + 1) + dx + 1 (0 towards inactive nodes and the padding).
 */
interface Grid {
  height: number;
  width: number;
  stride: number;
  active: Uint8Array;
  stencil: Float64Array;
  /** Row-major list of the active nodes. */
  nodes: Int32Array;
  /**
   * The finest grid only: its diagonal. There A's off-diagonal entries are −1/6 and −1/12 towards every in-image
   * neighbour, and every vector the solver applies A to is 0 off the active nodes (kept pixels, padding), so a row
   * needs only d_i (`applyFine`), not the 9 stored coefficients.
   */
  diagonal?: Float64Array;
}

/** Interpolation from a coarse grid to its fine grid: fine node f takes Σ weight[k]·coarse[parent[k]], k in parentStart[f] .. parentStart[f + 1] − 1. */
interface Transfer {
  parentStart: Int32Array;
  parent: Int32Array;
  weight: Float64Array;
}

interface Level {
  grid: Grid;
  /** From the next coarser level to this one (absent on the coarsest). */
  transfer?: Transfer;
  /** Coarsest level: the dense Cholesky factor of its unknowns (row-major, lower). */
  cholesky?: Float64Array;
  /** Scratch vectors of the V-cycle (right-hand side and correction on this grid; y for the coarsest solve). */
  work?: { b: Float64Array; x: Float64Array; y: Float64Array };
}

function offsets(stride: number): Int32Array {
  const o = new Int32Array(9);
  for (let k = 0; k < 9; k++) o[k] = (Math.floor(k / 3) - 1) * stride + (k % 3) - 1;
  return o;
}

function nodeList(active: Uint8Array): Int32Array {
  let count = 0;
  for (let p = 0; p < active.length; p++) count += active[p];
  const nodes = new Int32Array(count);
  for (let p = 0, i = 0; p < active.length; p++) if (active[p]) nodes[i++] = p;
  return nodes;
}

/** A padded plane (0 on the padding) from an image plane: value(y, x) at (y + 1)·(width + 2) + x + 1. */
function padded(height: number, width: number, value: (pixel: number) => number): Float64Array {
  const stride = width + 2;
  const out = new Float64Array((height + 2) * stride);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) out[(y + 1) * stride + x + 1] = value(y * width + x);
  return out;
}

/** The weighted sum of p's 8 neighbours in a padded plane: 1/6 direct, 1/12 diagonal (PGC's weights). */
function neighbourSum(v: Float64Array, p: number, stride: number): number {
  const up = p - stride, down = p + stride;
  return (v[up] + v[p - 1] + v[p + 1] + v[down]) / 6 + (v[up - 1] + v[up + 1] + v[down - 1] + v[down + 1]) / 12;
}

/** The finest grid: the removed pixels, with A's rows. */
function fineGrid(height: number, width: number, remove: Uint8Array): Grid {
  const stride = width + 2;
  const inImage = padded(height, width, () => 1);
  const removed = padded(height, width, (p) => (remove[p] ? 1 : 0));
  const active = Uint8Array.from(removed);
  const stencil = new Float64Array(9 * active.length);
  const diagonal = new Float64Array(active.length);
  const nodes = nodeList(active);
  for (const p of nodes) {
    // d_i = Σ of the in-image neighbour weights; −w_ij towards removed neighbours (kept ones go to b).
    diagonal[p] = neighbourSum(inImage, p, stride);
    const k = 9 * p, up = p - stride, down = p + stride;
    stencil[k] = -removed[up - 1] / 12;
    stencil[k + 1] = -removed[up] / 6;
    stencil[k + 2] = -removed[up + 1] / 12;
    stencil[k + 3] = -removed[p - 1] / 6;
    stencil[k + 4] = diagonal[p];
    stencil[k + 5] = -removed[p + 1] / 6;
    stencil[k + 6] = -removed[down - 1] / 12;
    stencil[k + 7] = -removed[down] / 6;
    stencil[k + 8] = -removed[down + 1] / 12;
  }
  return { height, width, stride, active, stencil, nodes, diagonal };
}

/**
 * The next coarser grid (coarse node (Y, X) sits on fine node (2Y, 2X)), bilinear interpolation restricted to the
 * fine grid's active nodes, and the Galerkin operator P^T·A·P (again 9-point: a coarse node couples only with its
 * 8 neighbours).
 */
function coarsen(fine: Grid): { grid: Grid; transfer: Transfer } {
  const height = Math.floor(fine.height / 2) + 1, width = Math.floor(fine.width / 2) + 1, stride = width + 2;
  const size = (height + 2) * stride;
  const parentStart = new Int32Array(fine.active.length + 1);
  const parent = new Int32Array(4 * fine.nodes.length), weight = new Float64Array(4 * fine.nodes.length);
  // The parents' coarse coordinates, 3·Y + X spaced so that the difference of two gives the stencil slot offset.
  const place = new Int32Array(4 * fine.nodes.length);
  const active = new Uint8Array(size);
  let count = 0;
  for (let p = 0; p < fine.active.length; p++) {
    if (fine.active[p]) {
      const y = Math.floor(p / fine.stride) - 1, x = p - (y + 1) * fine.stride - 1;
      // Even coordinates sit on a coarse node (weight 1), odd ones halfway between two (1/2 each).
      const y0 = y >> 1, y1 = (y + 1) >> 1, x0 = x >> 1, x1 = (x + 1) >> 1;
      const wy = y0 === y1 ? 1 : 0.5, wx = x0 === x1 ? 1 : 0.5;
      for (let cy = y0; cy <= y1; cy++) {
        for (let cx = x0; cx <= x1; cx++) {
          const q = (cy + 1) * stride + cx + 1;
          parent[count] = q;
          place[count] = 3 * cy + cx;
          weight[count++] = wy * wx;
          active[q] = 1;
        }
      }
    }
    parentStart[p + 1] = count;
  }
  const transfer = { parentStart, parent, weight };
  const stencil = new Float64Array(9 * size);
  const fineOffsets = offsets(fine.stride);
  for (let n = 0; n < fine.nodes.length; n++) {
    const f = fine.nodes[n];
    for (let k = 0; k < 9; k++) {
      const a = fine.stencil[9 * f + k];
      if (a === 0) continue;
      const g = f + fineOffsets[k];
      for (let i = parentStart[f]; i < parentStart[f + 1]; i++) {
        const I = parent[i], wa = weight[i] * a;
        // J − I = (dy, dx) with |dy|, |dx| ≤ 1 lands in slot 3·(dy + 1) + dx + 1 = 4 + place[j] − place[i].
        const at = 9 * I + 4 - place[i];
        for (let j = parentStart[g]; j < parentStart[g + 1]; j++) stencil[at + place[j]] += wa * weight[j];
      }
    }
  }
  return { grid: { height, width, stride, active, stencil, nodes: nodeList(active) }, transfer };
}

/**
 * Dense Cholesky (lower, row-major) of a small grid's operator over its active nodes. Interpolation restricted to
 * the active fine nodes can make two coarse columns proportional, so a Galerkin operator may be only semidefinite: a
 * pivot that vanishes is dropped (its row and column zero, its unknown 0 in the solve), which keeps the coarse solve
 * symmetric and the V-cycle positive definite (its smoothers are).
 */
function denseCholesky(grid: Grid): Float64Array {
  const { nodes, stencil } = grid;
  const n = nodes.length;
  const index = new Map<number, number>();
  nodes.forEach((p, i) => index.set(p, i));
  const o = offsets(grid.stride);
  const l = new Float64Array(n * n);
  nodes.forEach((p, i) => {
    for (let k = 0; k < 9; k++) {
      const j = index.get(p + o[k]);
      if (j !== undefined) l[i * n + j] = stencil[9 * p + k];
    }
  });
  for (let j = 0; j < n; j++) {
    let d = l[j * n + j];
    for (let k = 0; k < j; k++) d -= l[j * n + k] * l[j * n + k];
    if (!(d > 1e-12 * stencil[9 * nodes[j] + 4])) {
      for (let i = j; i < n; i++) l[i * n + j] = 0;
      continue;
    }
    d = Math.sqrt(d);
    l[j * n + j] = d;
    for (let i = j + 1; i < n; i++) {
      let s = l[i * n + j];
      for (let k = 0; k < j; k++) s -= l[i * n + k] * l[j * n + k];
      l[i * n + j] = s / d;
    }
  }
  return l;
}

function hierarchy(height: number, width: number, remove: Uint8Array): Level[] {
  const levels: Level[] = [{ grid: fineGrid(height, width, remove) }];
  for (;;) {
    const last = levels[levels.length - 1];
    if (last.grid.nodes.length <= COARSEST_UNKNOWNS || (last.grid.height <= 2 && last.grid.width <= 2)) {
      last.cholesky = denseCholesky(last.grid);
      last.work = { b: new Float64Array(last.grid.active.length), x: new Float64Array(last.grid.active.length), y: new Float64Array(last.grid.nodes.length) };
      return levels;
    }
    const { grid, transfer } = coarsen(last.grid);
    last.transfer = transfer;
    levels.push({ grid, work: { b: new Float64Array(grid.active.length), x: new Float64Array(grid.active.length), y: new Float64Array(0) } });
  }
}

/** (A·v)[p] for an active node p: the 9-point stencil, unrolled (this is the inner loop of everything below). */
function apply(s: Float64Array, v: Float64Array, p: number, stride: number): number {
  const k = 9 * p, up = p - stride, down = p + stride;
  return s[k] * v[up - 1] + s[k + 1] * v[up] + s[k + 2] * v[up + 1] +
    s[k + 3] * v[p - 1] + s[k + 4] * v[p] + s[k + 5] * v[p + 1] +
    s[k + 6] * v[down - 1] + s[k + 7] * v[down] + s[k + 8] * v[down + 1];
}

/** (A·v)[p] on the finest grid, where v is 0 off the active nodes (see Grid.diagonal). */
function applyFine(d: Float64Array, v: Float64Array, p: number, stride: number): number {
  const up = p - stride, down = p + stride;
  return d[p] * v[p] - (v[up] + v[p - 1] + v[p + 1] + v[down]) / 6 - (v[up - 1] + v[up + 1] + v[down - 1] + v[down + 1]) / 12;
}

/** out = A·v on the active nodes. */
function multiply(grid: Grid, v: Float64Array, out: Float64Array): void {
  const { stencil, nodes, stride, diagonal } = grid;
  if (diagonal) for (let n = 0; n < nodes.length; n++) out[nodes[n]] = applyFine(diagonal, v, nodes[n], stride);
  else for (let n = 0; n < nodes.length; n++) out[nodes[n]] = apply(stencil, v, nodes[n], stride);
}

/** One Gauss-Seidel sweep over the active nodes, forward (row-major) or backward. */
function gaussSeidel(grid: Grid, b: Float64Array, x: Float64Array, forward: boolean): void {
  const { stencil, nodes, stride, diagonal } = grid;
  const count = nodes.length;
  if (diagonal) {
    for (let n = 0; n < count; n++) {
      const p = nodes[forward ? n : count - 1 - n];
      x[p] += (b[p] - applyFine(diagonal, x, p, stride)) / diagonal[p];
    }
    return;
  }
  for (let n = 0; n < count; n++) {
    const p = nodes[forward ? n : count - 1 - n];
    x[p] += (b[p] - apply(stencil, x, p, stride)) / stencil[9 * p + 4];
  }
}

/** x = V-cycle(b) from 0: symmetric (forward sweep down, backward sweep up, restriction = interpolationᵀ). */
function vCycle(levels: Level[], l: number, b: Float64Array, x: Float64Array): void {
  const { grid, transfer, cholesky, work } = levels[l];
  x.fill(0);
  if (cholesky) {
    const nodes = grid.nodes, n = nodes.length, y = work!.y;
    for (let i = 0; i < n; i++) {
      let s = b[nodes[i]];
      for (let k = 0; k < i; k++) s -= cholesky[i * n + k] * y[k];
      y[i] = cholesky[i * n + i] === 0 ? 0 : s / cholesky[i * n + i];
    }
    for (let i = n - 1; i >= 0; i--) {
      let s = y[i];
      for (let k = i + 1; k < n; k++) s -= cholesky[k * n + i] * y[k];
      y[i] = cholesky[i * n + i] === 0 ? 0 : s / cholesky[i * n + i];
    }
    for (let i = 0; i < n; i++) x[nodes[i]] = y[i];
    return;
  }
  gaussSeidel(grid, b, x, true);
  const { nodes, stencil, stride, diagonal } = grid;
  const { b: bc, x: xc } = levels[l + 1].work!;
  bc.fill(0);
  const { parentStart, parent, weight } = transfer!;
  for (let n = 0; n < nodes.length; n++) {
    const p = nodes[n];
    const res = b[p] - (diagonal ? applyFine(diagonal, x, p, stride) : apply(stencil, x, p, stride));
    for (let i = parentStart[p]; i < parentStart[p + 1]; i++) bc[parent[i]] += weight[i] * res;
  }
  vCycle(levels, l + 1, bc, xc);
  for (let n = 0; n < nodes.length; n++) {
    const p = nodes[n];
    let s = 0;
    for (let i = parentStart[p]; i < parentStart[p + 1]; i++) s += weight[i] * xc[parent[i]];
    x[p] += s;
  }
  gaussSeidel(grid, b, x, false);
}

/** Preconditioned conjugate gradients for A·x = b (b and x on the finest padded grid), from 0. */
function solve(levels: Level[], b: Float64Array): Float64Array {
  const grid = levels[0].grid, nodes = grid.nodes, len = b.length;
  const x = new Float64Array(len), r = Float64Array.from(b), z = new Float64Array(len), p = new Float64Array(len), ap = new Float64Array(len);
  const dot = (u: Float64Array, v: Float64Array) => {
    let s = 0;
    for (let n = 0; n < nodes.length; n++) s += u[nodes[n]] * v[nodes[n]];
    return s;
  };
  let rr = dot(r, r);
  const stop = RELATIVE_RESIDUAL * RELATIVE_RESIDUAL * rr;
  if (rr === 0) return x;
  vCycle(levels, 0, r, z);
  p.set(z);
  let rz = dot(r, z);
  for (let iter = 0; iter < nodes.length + 100; iter++) {
    multiply(grid, p, ap);
    const alpha = rz / dot(p, ap);
    rr = 0;
    for (let n = 0; n < nodes.length; n++) {
      const i = nodes[n];
      x[i] += alpha * p[i];
      r[i] -= alpha * ap[i];
      rr += r[i] * r[i];
    }
    if (rr <= stop) break;
    vCycle(levels, 0, r, z);
    const next = dot(r, z);
    const beta = next / rz;
    rz = next;
    for (let n = 0; n < nodes.length; n++) p[nodes[n]] = z[nodes[n]] + beta * p[nodes[n]];
  }
  return x;
}

/** N(0, 1) from the seeded uniform stream `next` (Box-Muller). */
function gaussian(next: () => number): number {
  const u = 1 - next(), v = next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/**
 * The input with the pixels where remove[p] = 1 imputed in every channel, plus noise·N(0, 1) from the seeded stream
 * `next` (Box-Muller), drawn channel by channel in pixel order.
 */
export function noisyLinearImpute(input: Float32Array, shape: TensorShape, remove: Uint8Array, noise: number, next: () => number): Float32Array {
  const { height: h, width: w, channels } = shape;
  const { cs, ps } = strides(shape);
  const out = Float32Array.from(input);
  let m = 0;
  for (let p = 0; p < h * w; p++) m += remove[p] ? 1 : 0;
  if (m === 0) return out;
  if (m === h * w) throw new RangeError('ROAD cannot impute every pixel of the image');
  const levels = hierarchy(h, w, remove);
  const { nodes, stride } = levels[0].grid;
  const pixel = new Int32Array(nodes.length);
  for (let i = 0; i < nodes.length; i++) pixel[i] = (Math.floor(nodes[i] / stride) - 1) * w + (nodes[i] % stride) - 1;
  const b = new Float64Array(levels[0].grid.active.length);
  for (let c = 0; c < channels; c++) {
    // The kept neighbours' part of the right-hand side: the channel with the removed pixels (and the padding) at 0.
    const kept = padded(h, w, (p) => (remove[p] ? 0 : input[c * cs + p * ps]));
    for (let i = 0; i < nodes.length; i++) b[nodes[i]] = neighbourSum(kept, nodes[i], stride);
    const x = solve(levels, b);
    for (let i = 0; i < nodes.length; i++) out[c * cs + pixel[i] * ps] = x[nodes[i]] + (noise > 0 ? noise * gaussian(next) : 0);
  }
  return out;
}
