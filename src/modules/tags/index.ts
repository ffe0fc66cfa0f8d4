import type { ModuleManifest } from '../../platform/module';
import type { Projection } from '../events';
import { ProfileTagsResolver, SegmentResolver, TagResolver } from './tag.resolver';
import { tagProjection } from './tag.projection';
import type { TagService } from './tag.service';
export { TagService } from './tag.service';
export type { SweepStatus, TagInput, SegmentInput, SweepStep } from './tag.service';
export type { MembershipChange, TagRow, SegmentRow } from './tag.repository';
export { FIELD_DOCS } from './expression';
export { DEFAULT_THRESHOLDS, describeDefaults } from './segment-defaults';
export { TAG_PROFILE_PREFETCH } from './tag.prefetch';
export { tagProjection, systemTagWriter } from './tag.projection';

/** The tags module: tags and segments, a projection run after the ones that decide system tags. */
export const TAGS_MODULE: ModuleManifest<{ tags: TagService }, Projection> = {
  name: 'tags',
  // A getter: resolver classes are read when the schema is built, after every module has loaded.
  get resolvers() {
    return [TagResolver, SegmentResolver, ProfileTagsResolver];
  },
  projection: (s) => tagProjection(s.tags, ['stages', 'health']),
};
