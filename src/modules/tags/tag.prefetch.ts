import type { ProfilePrefetchPart } from '../profiles';
import { timestamptz } from '../profiles';
import type { SegmentRow, TagRow } from './tag.repository';
import { ProfileSegment, ProfileTag, type TagKindType } from './tag.type';

export const PROFILE_TAGS_LOADER = 'profile.tags';
export const PROFILE_SEGMENTS_LOADER = 'profile.segments';

export function toProfileTag(d: Pick<TagRow, 'key' | 'name' | 'group_name'> & { kind: string }, a: { source: string; added_at: Date }): ProfileTag {
  return Object.assign(new ProfileTag(), { key: d.key, name: d.name, group: d.group_name, kind: d.kind as TagKindType, source: a.source, addedAt: a.added_at });
}

export function toProfileSegment(d: Pick<SegmentRow, 'id' | 'key' | 'name'>, m: { entered_at: Date }): ProfileSegment {
  return Object.assign(new ProfileSegment(), { id: d.id, key: d.key, name: d.name, enteredAt: m.entered_at });
}

interface JsonTag {
  key: string;
  name: string;
  group_name: string;
  kind: string;
  source: string;
  added_at: string;
}

interface JsonSegment {
  id: string;
  key: string;
  name: string;
  entered_at: string;
}

/** `Profile.tags` read with the profile: assignments with their definitions, by tag key (as the loader answers). */
const tagsPart: ProfilePrefetchPart = {
  field: 'tags',
  select: () => `(SELECT coalesce(json_agg(json_build_object('key', t.key, 'name', t.name, 'group_name', t.group_name, 'kind', t.kind,
      'source', pt.source, 'added_at', pt.added_at::text) ORDER BY pt.tag_key), '[]'::json)
    FROM profile_tags pt JOIN tags t ON t.workspace_id = pt.workspace_id AND t.key = pt.tag_key
    WHERE pt.workspace_id = p.workspace_id AND pt.profile_id = p.id)`,
  prime: (loaders, id, value) =>
    loaders.prime(
      PROFILE_TAGS_LOADER,
      id,
      (value as JsonTag[]).map((t) => toProfileTag(t, { source: t.source, added_at: timestamptz(t.added_at) })),
    ),
};

/** `Profile.segments` read with the profile, in the order of the segment list (as the loader answers). */
const segmentsPart: ProfilePrefetchPart = {
  field: 'segments',
  select: () => `(SELECT coalesce(json_agg(json_build_object('id', s.id, 'key', s.key, 'name', s.name, 'entered_at', sm.entered_at::text)
      ORDER BY s.is_default DESC, s.created_at, s.key), '[]'::json)
    FROM segment_members sm JOIN segments s ON s.workspace_id = sm.workspace_id AND s.id = sm.segment_id
    WHERE sm.workspace_id = p.workspace_id AND sm.profile_id = p.id)`,
  prime: (loaders, id, value) =>
    loaders.prime(
      PROFILE_SEGMENTS_LOADER,
      id,
      (value as JsonSegment[]).map((s) => toProfileSegment(s, { entered_at: timestamptz(s.entered_at) })),
    ),
};

/** The tags module's parts of a profile read (registered in src/services.ts). */
export const TAG_PROFILE_PREFETCH: ProfilePrefetchPart[] = [tagsPart, segmentsPart];
