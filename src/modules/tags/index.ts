export { TagService } from './tag.service';
export type { SweepStatus, TagInput, SegmentInput } from './tag.service';
export type { MembershipChange, TagRow, SegmentRow } from './tag.repository';
export { FIELD_DOCS } from './expression';
export { DEFAULT_THRESHOLDS, describeDefaults } from './segment-defaults';
export { TAG_PROFILE_PREFETCH } from './tag.prefetch';
