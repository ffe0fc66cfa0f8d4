import { Field, InputType } from 'type-graphql';

/** One identifier as GraphQL input: events carry them (`EventInput.identifiers`), profiles are looked up by one. */
@InputType({ description: 'One identifier of a person: (type, namespace, value).' })
export class IdentifierInput {
  @Field({
    description:
      'One of member_id, wechat_unionid, phone, email, wecom_external_userid, wechat_openid, douyin_unionid, douyin_openid, xhs_user_id, weibo_uid, kuaishou_uid, device_id, anonymous_id.',
  })
  type: string;

  @Field({
    nullable: true,
    description:
      'Required for namespaced types: the app id for wechat_openid (an openid is unique only inside one app), the open-platform account for wechat_unionid / douyin_unionid, the corp id for wecom_external_userid, the client key for douyin_openid. Must be empty for the others.',
  })
  namespace?: string;

  @Field({ description: 'The value. Phone numbers are normalised to E.164 (default region CN), e-mails lower-cased.' })
  value: string;
}
