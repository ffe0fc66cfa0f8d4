import { Foundation1763856000000 } from './1763856000000-Foundation';
import { IdentityAndEvents1763870000000 } from './1763870000000-IdentityAndEvents';
import { TagsAndSegments1763880000000 } from './1763880000000-TagsAndSegments';
import { Lifecycle1763890000000 } from './1763890000000-Lifecycle';
import { Journeys1763891000000 } from './1763891000000-Journeys';
import { Health1763892000000 } from './1763892000000-Health';
import { Kpis1763893000000 } from './1763893000000-Kpis';
import { Compliance1763894000000 } from './1763894000000-Compliance';
import { Seed1763896000000 } from './1763896000000-Seed';
import { PiiKeyring1763897000000 } from './1763897000000-PiiKeyring';
import { RecomputePartsFromManifests1764000000000 } from './1764000000000-RecomputePartsFromManifests';
import { DueWork1764050000000 } from './1764050000000-DueWork';
import { AlertRuleSettings1764100000000 } from './1764100000000-AlertRuleSettings';
import { KpiDaySets1764200000000 } from './1764200000000-KpiDaySets';
import { RuleWindows1764300000000 } from './1764300000000-RuleWindows';
import { HealthDays1764400000000 } from './1764400000000-HealthDays';
import { HealthState1764500000000 } from './1764500000000-HealthState';
import { OrderEventsIndex1764600000000 } from './1764600000000-OrderEventsIndex';
import { KpiCarriedCounts1764700000000 } from './1764700000000-KpiCarriedCounts';
import { KpiCohortCounts1764800000000 } from './1764800000000-KpiCohortCounts';
import { KpiDayTotals1764900000000 } from './1764900000000-KpiDayTotals';
import { KpiDayGaps1765000000000 } from './1765000000000-KpiDayGaps';
import { KpiPendingReferrers1765100000000 } from './1765100000000-KpiPendingReferrers';
import { KpiFunnels1765200000000 } from './1765200000000-KpiFunnels';
import { KpiCohortMatrix1765300000000 } from './1765300000000-KpiCohortMatrix';
import { Experiments1765400000000 } from './1765400000000-Experiments';
import { Attribution1765500000000 } from './1765500000000-Attribution';
import { KpiVariants1765600000000 } from './1765600000000-KpiVariants';
import { Destinations1765700000000 } from './1765700000000-Destinations';
import { Membership1765800000000 } from './1765800000000-Membership';
import { AlertResponse1765810000000 } from './1765810000000-AlertResponse';
import { DestinationSecrets1765815000000 } from './1765815000000-DestinationSecrets';
import { RiskSignals1765820000000 } from './1765820000000-RiskSignals';
import { OrgTree1765830000000 } from './1765830000000-OrgTree';
import { MembershipSpend1765840000000 } from './1765840000000-MembershipSpend';

/** Every migration, in order. Migrations are never edited once landed: add a new one. */
export const MIGRATIONS = [
  Foundation1763856000000,
  IdentityAndEvents1763870000000,
  TagsAndSegments1763880000000,
  Lifecycle1763890000000,
  Journeys1763891000000,
  Health1763892000000,
  Kpis1763893000000,
  Compliance1763894000000,
  Seed1763896000000,
  PiiKeyring1763897000000,
  RecomputePartsFromManifests1764000000000,
  DueWork1764050000000,
  AlertRuleSettings1764100000000,
  KpiDaySets1764200000000,
  RuleWindows1764300000000,
  HealthDays1764400000000,
  HealthState1764500000000,
  OrderEventsIndex1764600000000,
  KpiCarriedCounts1764700000000,
  KpiCohortCounts1764800000000,
  KpiDayTotals1764900000000,
  KpiDayGaps1765000000000,
  KpiPendingReferrers1765100000000,
  KpiFunnels1765200000000,
  KpiCohortMatrix1765300000000,
  Experiments1765400000000,
  Attribution1765500000000,
  KpiVariants1765600000000,
  Destinations1765700000000,
  Membership1765800000000,
  AlertResponse1765810000000,
  DestinationSecrets1765815000000,
  RiskSignals1765820000000,
  OrgTree1765830000000,
  MembershipSpend1765840000000,
];
