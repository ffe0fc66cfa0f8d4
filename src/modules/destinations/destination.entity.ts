import { Column, Entity, PrimaryColumn } from 'typeorm';

/** An outbound destination (table `destinations`): TypeORM only; the GraphQL type is `Destination`. */
@Entity({ name: 'destinations' })
export class DestinationEntity {
  @PrimaryColumn({ name: 'workspace_id', type: 'uuid' })
  workspaceId: string;

  @PrimaryColumn({ type: 'uuid' })
  id: string;

  @Column({ type: 'text' })
  name: string;

  @Column({ type: 'text' })
  format: string;

  @Column({ type: 'text' })
  url: string;

  /** Never mapped to GraphQL: `Destination.hasSecret` says only whether one is set. */
  @Column({ type: 'text', nullable: true })
  secret: string | null;

  @Column({ type: 'text', array: true })
  events: string[];

  @Column({ name: 'segment_ids', type: 'text', array: true, nullable: true })
  segmentIds: string[] | null;

  @Column({ name: 'journey_ids', type: 'uuid', array: true, nullable: true })
  journeyIds: string[] | null;

  @Column({ name: 'min_alert_level', type: 'text' })
  minAlertLevel: string;

  @Column({ type: 'boolean' })
  enabled: boolean;

  @Column({ name: 'allow_personal_data', type: 'boolean' })
  allowPersonalData: boolean;

  @Column({ name: 'allow_private_network', type: 'boolean' })
  allowPrivateNetwork: boolean;

  @Column({ name: 'max_attempts', type: 'integer' })
  maxAttempts: number;

  @Column({ name: 'timeout_ms', type: 'integer' })
  timeoutMs: number;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
