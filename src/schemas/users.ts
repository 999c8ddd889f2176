import { Type, type Static } from 'typebox'
import { INVISIBLE_CHAR } from '../lib/visible-text.ts'

export const ROLES = ['User', 'Admin'] as const
export const RoleSchema = Type.Union([Type.Literal('User'), Type.Literal('Admin')])
export type Role = Static<typeof RoleSchema>

// Limits shared by the page forms, the API and the repository.
export const UID_MAX = 40
export const NAME_MAX = 100
export const PASSWORD_MIN = 8
export const PASSWORD_MAX = 256
/**
 * Never part of a name (a RegExp, for the users repository and the Flask import): any invisible
 * character (lib/visible-text.ts: controls, bidirectional controls, zero-width spaces, Hangul
 * fillers, unassigned and private-use code points…), so that a name cannot look blank, pass for
 * another one or reorder what the users list shows. Allowed all the same: the two joiners
 * (U+200C, U+200D), which Persian and emoji sequences need, and the emoji presentation selector
 * U+FE0F after an emoji ("❤️" as phones type it). PRECIS FreeformClass (RFC 8264) refuses the
 * same classes with the same joiner exception.
 */
export const NAME_CONTROL_CHARS = `(?:(?![\\u200C\\u200D\\uFE0F])${INVISIBLE_CHAR}|(?<!\\p{Extended_Pictographic})\\uFE0F)`

// Inputs as received. Schemas bound type and size only; the content rules (non-empty, pattern,
// length) live in the users repository, so forms can show them on the field that broke them.
// The descriptions say the rules (the API reference shows them); maxLength is only the size bound.
export const UidInput = Type.String({ maxLength: UID_MAX * 2, description: `User id: 2 to ${UID_MAX} letters, digits, '.', '-' or '_', starting with a letter or digit; case-insensitive.` })
export const PasswordInput = Type.String({ maxLength: PASSWORD_MAX, description: `Password: ${PASSWORD_MIN} to ${PASSWORD_MAX} characters.` })
export const NameInput = Type.String({ maxLength: NAME_MAX * 2, description: `Name: 1 to ${NAME_MAX} characters, no control or invisible characters.` })
/** `YYYY-MM-DD`; the empty string means "no date" in forms. */
export const DobInput = Type.String({ maxLength: 10, pattern: '^(\\d{4}-\\d{2}-\\d{2})?$' })
/** Extra attributes: at most 32 keys of at most 64 characters (`propertyNames`: a record's key schema becomes a pattern and loses its maxLength). */
export const HashmapSchema = Type.Record(Type.String(), Type.Unknown(), { maxProperties: 32, propertyNames: { maxLength: 64 } })

/** A user as the API shows it (the Flask original's fields). Never carries the password hash. */
export const PublicUserSchema = Type.Object({
  id: Type.Integer(),
  uid: Type.String(),
  name: Type.String(),
  dob: Type.Union([Type.String({ format: 'date' }), Type.Null()]),
  age: Type.Union([Type.Integer(), Type.Null()]),
  hashmap: Type.Record(Type.String(), Type.Unknown()),
  role: RoleSchema
})
export type PublicUser = Static<typeof PublicUserSchema>

export const UserRowSchema = Type.Object({
  ...PublicUserSchema.properties,
  access: Type.Union([Type.Literal('rw'), Type.Literal('ro')])
})

export const CreateUserSchema = Type.Object({
  uid: UidInput,
  name: NameInput,
  password: PasswordInput,
  dob: Type.Optional(Type.Union([DobInput, Type.Null()])),
  hashmap: Type.Optional(HashmapSchema)
}, { additionalProperties: false })
export type CreateUser = Static<typeof CreateUserSchema>

/** PUT /api/users: `uid` names the user to change (default: the caller); the rest are the changes. */
export const UpdateUserSchema = Type.Object({
  uid: Type.Optional(UidInput),
  name: Type.Optional(NameInput),
  password: Type.Optional(PasswordInput),
  dob: Type.Optional(Type.Union([DobInput, Type.Null()])),
  hashmap: Type.Optional(HashmapSchema),
  role: Type.Optional(RoleSchema),
  /** Required when changing your own password. */
  currentPassword: Type.Optional(PasswordInput)
}, { additionalProperties: false })
export type UpdateUser = Static<typeof UpdateUserSchema>

export const DeleteUserSchema = Type.Object({
  uid: UidInput
}, { additionalProperties: false })

/**
 * The `:id` of a user in a route path, in its one spelling: decimal digits without a leading zero.
 * Ajv's type coercion alone would read `01`, `0x1`, `1e0`, `+1`, `1.0` or ` 1` as user 1 too, so
 * one user would have many URLs (for caches, logs and anyone comparing them); those paths now
 * name no route (404). UserIdParams still checks the range.
 */
export const USER_ID = ':id(^[1-9][0-9]{0,9}$)'

export const UserIdParams = Type.Object({
  id: Type.Integer({ minimum: 1, maximum: 2147483647 })
}, { additionalProperties: false })
