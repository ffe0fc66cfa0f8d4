import type { ModuleManifest } from '../../platform/module';
import type { Projection } from '../events';
import { tagProjection } from './tag.projection';
import type { TagService } from './tag.service';
export { TagService } from './tag.service';
export type { SweepStatus, TagInput, SegmentInput, SweepStep } from './tag.service';
export type { MembershipChange, TagRow, SegmentRow } from './tag.repository';
export { FIELD_DOCS } from './expression';
export { DEFAULT_THRESHOLDS, describeDefaults } from './segment-defaults';
export { TAG_PROFILE_PREFETCH } from './tag.prefetch';
export { tagProjection, systemTagWriter } from './tag.projection';

export { createSegmentExportRouter } from './segment-export.router';
export type { SegmentExportDeps } from './segment-export.router';
import { ProfileTagsResolver, SegmentResolver, TagResolver } from './tag.resolver';
export { ProfileTagsResolver, SegmentResolver, TagResolver };
export type { TagResolverDeps } from './tag.resolver';

/**
 * The tags module: tags and segments, a projection run after the ones that decide system tags
 * (stages, health) and after experiments and membership, so `variant()`, `points` and `level` see
 * the batch's exposures and balances.
 */
export const TAGS_MODULE = {
  name: 'tags',
  resolvers: () => [TagResolver, SegmentResolver, ProfileTagsResolver] as const,
  projection: (s) => tagProjection(s.tags, ['stages', 'health', 'experiments', 'membership']),
} satisfies ModuleManifest<readonly Function[], { tags: TagService }, Projection>;
