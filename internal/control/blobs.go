package control

import (
	"crypto/ed25519"
	"encoding/binary"
	"fmt"

	"github.com/weftnet/weft/blob"
)

// Blob registrations. A blob ID's record (Blob) is shared by every
// registration of it; each registration (r/ id owner) belongs to one
// owner, who alone may extend or delete it. The ID is live — nodes keep
// its data — while it has a live registration.

func (m *Machine) blob(id blob.ID) (*Blob, error) {
	var b Blob
	if !m.getJSON(keyBlob(id), &b) {
		return nil, fmt.Errorf("%w: %v", ErrUnknownBlob, id)
	}
	return &b, nil
}

func (m *Machine) registration(id blob.ID, owner PublicKey) (*Registration, error) {
	var r Registration
	if !m.getJSON(keyReg(id, owner), &r) {
		return nil, fmt.Errorf("%w: %s holds no registration of %v", ErrUnknownBlob, owner.Short(), id)
	}
	return &r, nil
}

func (m *Machine) putRegistration(r *Registration) {
	m.setJSON(keyReg(r.ID, r.Owner), r)
	m.set(keyExpiry(r.EndEpoch, r.ID, r.Owner), []byte{1})
	m.set(keyRegEnd(r.ID, r.EndEpoch, r.Owner), []byte{1})
}

// removeRegistration drops a registration and counts it off its blob;
// the caller writes the blob.
func (m *Machine) removeRegistration(b *Blob, r *Registration) {
	m.del(keyReg(r.ID, r.Owner))
	m.del(keyExpiry(r.EndEpoch, r.ID, r.Owner))
	m.del(keyRegEnd(r.ID, r.EndEpoch, r.Owner))
	b.Registrations--
}

// latestEnd is the latest end epoch among an ID's registrations.
func (m *Machine) latestEnd(id blob.ID) uint64 {
	prefix := append([]byte("y/"), id[:]...)
	var end uint64
	m.scan(prefix, prefixEnd(prefix), func(k, _ []byte) bool {
		end = ^binary.BigEndian.Uint64(k[len(prefix):])
		return false
	})
	return end
}

func (m *Machine) registerBlob(owner PublicKey, r *RegisterBlob) error {
	epoch, _ := m.epoch()
	switch {
	case r.Encoding != blob.RS2D16:
		return fmt.Errorf("%w: unknown encoding %d", ErrBadRequest, r.Encoding)
	case blob.ComputeID(r.Encoding, r.Length, r.Root) != r.ID:
		return fmt.Errorf("%w: blob ID %v is not H(encoding ‖ length %d ‖ root)", ErrBadRequest, r.ID, r.Length)
	case r.EndEpoch <= epoch:
		return fmt.Errorf("%w: end epoch %d is not after the current epoch %d", ErrEpoch, r.EndEpoch, epoch)
	case r.EndEpoch > epoch+m.params.MaxEpochsAhead:
		return fmt.Errorf("%w: end epoch %d is more than %d epochs ahead", ErrEpoch, r.EndEpoch, m.params.MaxEpochsAhead)
	}
	if err := r.Attributes.Validate(); err != nil {
		return err
	}
	b, err := m.blob(r.ID)
	switch {
	case err != nil:
		b = &Blob{ID: r.ID, Length: r.Length, Encoding: r.Encoding, Root: r.Root, RegisteredEpoch: epoch, Attributes: r.Attributes}
	case b.Invalid:
		return fmt.Errorf("%w: blob %v is invalid", ErrBlobState, r.ID)
	case b.Registrations == 0:
		// Deleted or expired: the ID starts a new life, to be stored and
		// certified again.
		*b = Blob{ID: r.ID, Length: r.Length, Encoding: r.Encoding, Root: r.Root, RegisteredEpoch: epoch, Attributes: r.Attributes}
	default:
		if m.get(keyReg(r.ID, owner)) != nil {
			return fmt.Errorf("%w: %s already holds a registration of %v (extend it instead)", ErrBlobExists, owner.Short(), r.ID)
		}
	}
	reg := &Registration{ID: r.ID, Owner: owner, RegisteredEpoch: epoch, EndEpoch: r.EndEpoch, Deletable: r.Deletable, Attributes: r.Attributes}
	m.putRegistration(reg)
	b.Registrations++
	b.EndEpoch = max(b.EndEpoch, r.EndEpoch)
	m.setJSON(keyBlob(r.ID), b)
	m.set(keyLive(r.ID), []byte{1})
	id := r.ID
	m.emit(Event{Type: EventBlobRegistered, BlobID: &id, EndEpoch: b.EndEpoch, Owner: &owner})
	return nil
}

// checkCertificate verifies signatures over msg by distinct members of the
// current committee and returns their weight in shards.
func (m *Machine) checkCertificate(c *Certificate, msg []byte) (int, error) {
	epoch, _ := m.epoch()
	if c.Epoch != epoch {
		return 0, fmt.Errorf("%w: certificate for epoch %d, current epoch is %d", ErrEpoch, c.Epoch, epoch)
	}
	var com Committee
	if !m.getJSON(keyCommittee(epoch), &com) {
		return 0, fmt.Errorf("%w: no committee for epoch %d", ErrCertificate, epoch)
	}
	if len(c.Signatures) > len(com.Members) {
		return 0, fmt.Errorf("%w: %d signatures, the committee has %d members", ErrCertificate, len(c.Signatures), len(com.Members))
	}
	// Membership first: it is cheap, and a stranger's signatures cost no
	// verification.
	seen := make(map[PublicKey]bool, len(c.Signatures))
	weight := 0
	for _, s := range c.Signatures {
		if seen[s.Node] {
			return 0, fmt.Errorf("%w: signer %s appears twice", ErrCertificate, s.Node.Short())
		}
		seen[s.Node] = true
		w := com.Weight(s.Node)
		if w == 0 {
			return 0, fmt.Errorf("%w: signer %s is not in the committee of epoch %d", ErrCertificate, s.Node.Short(), epoch)
		}
		weight += w
	}
	for i, s := range c.Signatures {
		if len(s.Sig) != ed25519.SignatureSize || !ed25519.Verify(s.Node[:], msg, s.Sig) {
			return 0, fmt.Errorf("%w: signature %d (node %s) does not verify", ErrCertificate, i, s.Node.Short())
		}
	}
	return weight, nil
}

func (m *Machine) certify(c *Certificate) error {
	b, err := m.blob(c.ID)
	if err != nil {
		return err
	}
	epoch, _ := m.epoch()
	if st := b.Status(epoch); st != StatusRegistered {
		return fmt.Errorf("%w: blob is %s", ErrBlobState, st)
	}
	weight, err := m.checkCertificate(c, ConfirmationMessage(m.params.NetworkID, c.Epoch, c.ID))
	if err != nil {
		return err
	}
	if weight < m.params.Quorum() {
		return fmt.Errorf("%w: confirmations worth %d shards, need %d", ErrCertificate, weight, m.params.Quorum())
	}
	b.Certified, b.CertifiedEpoch, b.CertifiedAt = true, epoch, m.time.UnixNano()
	m.setJSON(keyBlob(c.ID), b)
	m.sampleAdd(c.ID)
	id := c.ID
	m.emit(Event{Type: EventBlobCertified, BlobID: &id, EndEpoch: b.EndEpoch})
	return nil
}

func (m *Machine) invalidate(c *Certificate) error {
	b, err := m.blob(c.ID)
	if err != nil {
		return err
	}
	if b.Invalid {
		return fmt.Errorf("%w: blob is already invalid", ErrBlobState)
	}
	weight, err := m.checkCertificate(c, InvalidMessage(m.params.NetworkID, c.Epoch, c.ID))
	if err != nil {
		return err
	}
	if weight < m.params.Validity() {
		return fmt.Errorf("%w: attestations worth %d shards, need %d", ErrCertificate, weight, m.params.Validity())
	}
	b.Invalid = true
	m.setJSON(keyBlob(c.ID), b)
	m.unlive(c.ID)
	id := c.ID
	m.emit(Event{Type: EventBlobInvalid, BlobID: &id})
	return nil
}

// deleteRegistration deletes the sender's registration of a blob; the
// blob itself is deleted with its last live registration.
func (m *Machine) deleteRegistration(sender PublicKey, id blob.ID) error {
	b, err := m.blob(id)
	if err != nil {
		return err
	}
	r, err := m.registration(id, sender)
	if err != nil {
		return err
	}
	epoch, _ := m.epoch()
	switch {
	case !r.Deletable:
		return fmt.Errorf("%w: the registration was not made deletable", ErrNotAllowed)
	case b.Invalid:
		return fmt.Errorf("%w: blob is invalid", ErrBlobState)
	case epoch >= r.EndEpoch:
		return fmt.Errorf("%w: the registration has expired", ErrBlobState)
	}
	m.removeRegistration(b, r)
	if b.Registrations == 0 {
		b.Deleted = true
		m.setJSON(keyBlob(id), b)
		m.unlive(id)
		m.emit(Event{Type: EventBlobDeleted, BlobID: &id, Owner: &sender})
		return nil
	}
	b.EndEpoch = m.latestEnd(id)
	m.setJSON(keyBlob(id), b)
	m.emit(Event{Type: EventRegistrationDeleted, BlobID: &id, EndEpoch: b.EndEpoch, Owner: &sender})
	return nil
}

// extend moves the end epoch of the sender's registration later.
func (m *Machine) extend(sender PublicKey, e *ExtendBlob) error {
	b, err := m.blob(e.ID)
	if err != nil {
		return err
	}
	r, err := m.registration(e.ID, sender)
	if err != nil {
		return err
	}
	epoch, _ := m.epoch()
	if st := b.Status(epoch); st != StatusRegistered && st != StatusCertified {
		return fmt.Errorf("%w: blob is %s", ErrBlobState, st)
	}
	if e.EndEpoch <= r.EndEpoch || e.EndEpoch > epoch+m.params.MaxEpochsAhead {
		return fmt.Errorf("%w: new end epoch %d must be after %d and at most %d", ErrEpoch, e.EndEpoch, r.EndEpoch, epoch+m.params.MaxEpochsAhead)
	}
	m.del(keyExpiry(r.EndEpoch, r.ID, r.Owner))
	m.del(keyRegEnd(r.ID, r.EndEpoch, r.Owner))
	r.EndEpoch = e.EndEpoch
	m.putRegistration(r)
	b.EndEpoch = max(b.EndEpoch, e.EndEpoch)
	m.setJSON(keyBlob(e.ID), b)
	id := e.ID
	m.emit(Event{Type: EventBlobExtended, BlobID: &id, EndEpoch: b.EndEpoch, Owner: &sender})
	return nil
}

// expireRegistrations drops the registrations whose end epoch is reached;
// a blob whose last live registration goes expires with it.
func (m *Machine) expireRegistrations(epoch uint64) {
	start := binary.BigEndian.AppendUint64([]byte("x/"), epoch)
	var due []Registration
	if m.scan(start, prefixEnd(start), func(k, _ []byte) bool {
		rest := k[len(start):]
		due = append(due, Registration{ID: blob.ID(rest[:32]), Owner: PublicKey(rest[32:]), EndEpoch: epoch})
		return true
	}) != nil {
		return
	}
	for i := range due {
		r := &due[i]
		b, err := m.blob(r.ID)
		if err != nil {
			if m.err == nil {
				m.err = fmt.Errorf("control: registration of unknown blob %v", r.ID)
			}
			return
		}
		m.removeRegistration(b, r)
		m.setJSON(keyBlob(r.ID), b)
		if b.Registrations == 0 && !b.Invalid {
			id := r.ID
			m.unlive(id)
			m.emit(Event{Type: EventBlobExpired, BlobID: &id})
		}
	}
}
